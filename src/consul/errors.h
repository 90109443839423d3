#pragma once
// What a failed Consul request means. Consul says some of it only in the
// body text ("ACL not found", "Unknown service ID ..."); that text is read
// once, here, where the answer arrives, and callers ask typed predicates.
#include <stdexcept>
#include <string>
#include <string_view>

namespace consulecs::consul {

// Consul answered with a non-2xx status.
class ApiError : public std::runtime_error {
 public:
  // `what` is the whole message; the predicates are read from it.
  ApiError(long status, std::string what);
  // The message of a failed `method path` answered `status` with `body`.
  ApiError(long status, std::string_view method, std::string_view path, std::string_view body);

  long status() const { return status_; }
  // 403 "ACL not found": Consul does not know the token (deleted by the
  // controller or an operator, or Consul lost its data).
  bool acl_not_found() const { return acl_not_found_; }
  // "Unknown service": a check write or deregistration names a service
  // instance that is not in the catalog.
  bool unknown_service() const { return unknown_service_; }
  // "Unknown node": the node of a check write or deregistration is gone.
  bool unknown_node() const { return unknown_node_; }
  // 404, or 403 "ACL not found" (what older servers answer for a missing
  // ACL object).
  bool not_found() const { return status_ == 404 || acl_not_found_; }

 private:
  void classify(std::string_view text);

  long status_;
  bool acl_not_found_ = false;
  bool unknown_service_ = false;
  bool unknown_node_ = false;
};

// No server could be reached (every address failed at the transport level).
class UnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The request's stop flag was set before Consul answered (no fail-over then).
class CancelledError : public UnavailableError {
 public:
  using UnavailableError::UnavailableError;
};

// The same predicates for any exception: false unless it is an ApiError that
// says so.
bool acl_not_found(const std::exception& error);
bool unknown_service(const std::exception& error);
bool unknown_node(const std::exception& error);
bool not_found(const std::exception& error);

}  // namespace consulecs::consul
