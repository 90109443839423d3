#pragma once
// JSON paths and JSON type names as the config's error messages print them,
// shared by the schema validator and the typed config reader so both name a
// place in the document the same way:
//   service.name   proxy.upstreams[0].localBindPort   service.meta["consul.hashicorp.com/x"]
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

namespace consulecs::config {

// A key printed after a dot: ASCII letters, digits, '_' and '-'.
inline bool is_plain_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// `parent.key`, or `parent["key"]` (JSON-quoted) when the key is not plain.
// The root is the empty path.
inline std::string path_key(std::string_view parent, std::string_view key) {
  if (!is_plain_key(key)) {
    return fmt::format("{}[{}]", parent,
                       nlohmann::json(std::string(key)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

inline std::string path_index(std::string_view parent, std::size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

// True when `path` is `ancestor` or lies inside it (the root contains every path).
inline bool path_within(std::string_view path, std::string_view ancestor) {
  if (ancestor.empty() || path == ancestor) return true;
  return path.size() > ancestor.size() && path.substr(0, ancestor.size()) == ancestor &&
         (path[ancestor.size()] == '.' || path[ancestor.size()] == '[');
}

// A number without fractional part, 1.0 included, as JSON Schema's "integer".
inline bool is_integer_valued(const nlohmann::json& value) {
  if (value.is_number_integer()) return true;  // covers unsigned too
  if (!value.is_number_float()) return false;
  const double d = value.get<double>();
  return std::isfinite(d) && std::trunc(d) == d;
}

// "null", "boolean", "integer", "number", "string", "array" or "object".
inline std::string_view json_type_name(const nlohmann::json& value) {
  using nlohmann::json;
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return is_integer_valued(value) ? "integer" : "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "unknown";
  }
}

}  // namespace consulecs::config
