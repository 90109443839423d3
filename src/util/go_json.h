#pragma once
// JSON text byte-identical to what Go's encoding/json.Marshal produces, for
// the few shapes we need to mirror exactly (the Consul aws-iam bearer token).
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace consulecs::gojson {

// A JSON string literal as json.Marshal writes it: escapes '"', '\\', control
// characters (\n, \r, \t short forms, others \u00XX), and, as Go's default
// HTML-safe encoding does, '<', '>', '&', U+2028 and U+2029. Invalid UTF-8
// becomes U+FFFD.
std::string quote(std::string_view text);

// json.Marshal of a map[string]string (keys sorted bytewise, compact).
std::string marshal(const std::map<std::string, std::string>& object);

// json.Marshal of a map[string][]string such as http.Header.
std::string marshal(const std::map<std::string, std::vector<std::string>>& object);

}  // namespace consulecs::gojson
