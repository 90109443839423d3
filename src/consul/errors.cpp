#include "consul/errors.h"

namespace consulecs::consul {
namespace {

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

template <typename Predicate>
bool api_error_that(const std::exception& error, Predicate predicate) {
  const auto* api = dynamic_cast<const ApiError*>(&error);
  return api != nullptr && predicate(*api);
}

}  // namespace

ApiError::ApiError(long status, std::string what) : std::runtime_error(std::move(what)), status_(status) {
  classify(std::runtime_error::what());
}

ApiError::ApiError(long status, std::string_view method, std::string_view path, std::string_view body)
    : std::runtime_error([&] {
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
        return std::string(method) + " " + std::string(path) + ": HTTP " + std::to_string(status) + ": " +
               std::string(body);
      }()),
      status_(status) {
  classify(body);
}

void ApiError::classify(std::string_view text) {
  acl_not_found_ = status_ == 403 && has(text, "ACL not found");
  unknown_service_ = has(text, "Unknown service");
  unknown_node_ = has(text, "Unknown node");
}

bool acl_not_found(const std::exception& error) {
  return api_error_that(error, [](const ApiError& e) { return e.acl_not_found(); });
}
bool unknown_service(const std::exception& error) {
  return api_error_that(error, [](const ApiError& e) { return e.unknown_service(); });
}
bool unknown_node(const std::exception& error) {
  return api_error_that(error, [](const ApiError& e) { return e.unknown_node(); });
}
bool not_found(const std::exception& error) {
  return api_error_that(error, [](const ApiError& e) { return e.not_found(); });
}

}  // namespace consulecs::consul
