#pragma once
// A small blocking HTTP client over libcurl. One Client per thread: it keeps
// one curl easy handle (and the multi handle that drives it) so connections
// are reused between requests.
//
// Cancellation: http::cancel_in_flight() makes every request in flight in the
// process fail at once with CancelledError, whatever it is waiting for
// (connect, TLS, a server that never answers); requests started after the
// call are not affected, so a command can still make its shutdown requests
// after a SIGTERM. The long-running commands call it from their signal
// thread (signals::ShutdownSignals' on-signal hook); cancel_all() also fails
// every later request.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "util/signals.h"

namespace consulecs::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  // Whole request (connect included); and the connect phase alone (TCP
  // connect + TLS handshake), capped by `timeout`.
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{kDefaultConnectTimeout};
  // Set: the request fails with CancelledError once the flag is set (at
  // once when it already is). Not owned; must outlive the call.
  const signals::StopFlag* cancel = nullptr;

  // 1 s: a TCP connect and TLS handshake on a LAN/VPC take milliseconds, so
  // anything slower is a server that is down, black-holed or overloaded, and
  // failing over (or retrying next cycle) beats waiting.
  static constexpr std::chrono::milliseconds kDefaultConnectTimeout{1000};
};

struct Response {
  long status = 0;
  Headers headers;  // names as received
  std::string body;
  // First header with this name, case-insensitive.
  std::optional<std::string> header(std::string_view name) const;
};

// Transport failure: connection refused, DNS failure, TLS failure, timeout.
// HTTP error statuses are not exceptions; callers check Response::status.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The request's stop flag was set, or cancel_in_flight() was called, before
// it got an answer.
class CancelledError : public TransportError {
 public:
  using TransportError::TransportError;
};

// Cancels every request in flight in this process (any Client, any thread):
// each fails within milliseconds with CancelledError. Requests started after
// this call run normally. Thread-safe; not async-signal-safe (it takes a
// mutex): call it from a signal-waiting thread, not a signal handler.
void cancel_in_flight();

// cancel_in_flight(), and every later request fails at once with
// CancelledError too: for a command that has nothing left to ask anyone once
// a shutdown began (the controller). Same thread rules.
void cancel_all();

// How many times cancel_in_flight() was called (for tests and logs).
std::uint64_t cancel_generation();

struct TlsOptions {
  bool verify = true;
  std::string ca_file;        // PEM file path; empty = system store
  std::string ca_pem;         // PEM text (takes precedence over ca_file)
  std::string server_name;    // SNI and verification name; empty = host of URL
};

class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void set_tls(TlsOptions tls) { tls_ = std::move(tls); }
  // Throws TransportError when no HTTP response was received (CancelledError
  // when cancel_in_flight() interrupted it).
  Response send(const Request& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  TlsOptions tls_;
};

// Percent-encodes per RFC 3986: keeps the unreserved characters and those in
// `also_keep` (e.g. "/" for paths), upper-case hex for everything else.
std::string url_encode(std::string_view value, std::string_view also_keep = {});

}  // namespace consulecs::http
