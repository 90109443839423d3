#pragma once
// A small blocking HTTP client over libcurl. One Client per thread: it keeps
// one curl easy handle so connections are reused between requests.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace consulecs::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
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
  // Throws TransportError when no HTTP response was received.
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
