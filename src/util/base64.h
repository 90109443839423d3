#pragma once
// Standard base64 (RFC 4648 alphabet, with '=' padding), as Go's
// base64.StdEncoding.
#include <optional>
#include <string>
#include <string_view>

namespace consulecs::base64 {

std::string encode(std::string_view data);

// Strict: the input must be padded to a multiple of 4 characters of the
// standard alphabet, with no whitespace. Returns nullopt otherwise.
std::optional<std::string> decode(std::string_view text);

}  // namespace consulecs::base64
