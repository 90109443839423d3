#include "util/go_json.h"

namespace consulecs::gojson {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i] (as Go's
// utf8.DecodeRuneInString accepts it), or 0 when it is invalid.
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& rune) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto continuation = [&](std::size_t k) { return i + k < s.size() && (byte(k) & 0xC0) == 0x80; };
  const unsigned char b0 = byte(0);
  if (b0 >= 0xC2 && b0 <= 0xDF && continuation(1)) {
    rune = static_cast<char32_t>(((b0 & 0x1F) << 6) | (byte(1) & 0x3F));
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF && continuation(1) && continuation(2)) {
    rune = static_cast<char32_t>(((b0 & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F));
    if (rune < 0x800 || (rune >= 0xD800 && rune <= 0xDFFF)) return 0;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4 && continuation(1) && continuation(2) && continuation(3)) {
    rune = static_cast<char32_t>(((b0 & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) |
                                 (byte(3) & 0x3F));
    if (rune < 0x10000 || rune > 0x10FFFF) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

std::string quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      switch (b) {
        case '"':
        case '\\':
          out.push_back('\\');
          out.push_back(static_cast<char>(b));
          break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        default:
          if (b < 0x20 || b == '<' || b == '>' || b == '&') {
            out.append("\\u00");
            out.push_back(kHex[b >> 4]);
            out.push_back(kHex[b & 0xF]);
          } else {
            out.push_back(static_cast<char>(b));
          }
      }
      ++i;
      continue;
    }
    char32_t rune = 0;
    const std::size_t size = utf8_sequence(text, i, rune);
    if (size == 0) {
      out.append("\\ufffd");
      ++i;
      continue;
    }
    if (rune == 0x2028 || rune == 0x2029) {
      out.append("\\u202");
      out.push_back(kHex[rune & 0xF]);
    } else {
      out.append(text.substr(i, size));
    }
    i += size;
  }
  out.push_back('"');
  return out;
}

std::string marshal(const std::map<std::string, std::string>& object) {
  std::string out = "{";
  for (const auto& [key, value] : object) {
    if (out.size() > 1) out.push_back(',');
    out.append(quote(key)).push_back(':');
    out.append(quote(value));
  }
  out.push_back('}');
  return out;
}

std::string marshal(const std::map<std::string, std::vector<std::string>>& object) {
  std::string out = "{";
  for (const auto& [key, values] : object) {
    if (out.size() > 1) out.push_back(',');
    out.append(quote(key)).append(":[");
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(quote(values[i]));
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

}  // namespace consulecs::gojson
