#pragma once
// Lenient field access for JSON from AWS endpoints, which omit fields freely.
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace consulecs::util {

// The string at `key`, or "" when `object` is not an object or the value is
// absent or not a string.
inline std::string string_field(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace consulecs::util
