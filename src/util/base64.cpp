#include "util/base64.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace consulecs::base64 {
namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

std::string encode(std::string_view data) {
  if (data.empty()) return {};
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');  // +1: EVP_EncodeBlock writes a NUL
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(data.data()),
                                     static_cast<int>(data.size()));
  if (length < 0) throw std::runtime_error("base64 encoding failed");
  out.resize(static_cast<std::size_t>(length));
  return out;
}

std::optional<std::string> decode(std::string_view text) {
  if (text.empty()) return std::string{};
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    if (!in_alphabet(text[i])) return std::nullopt;
  }
  std::string out(3 * (text.size() / 4), '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  out.resize(static_cast<std::size_t>(length) - padding);
  return out;
}

}  // namespace consulecs::base64
