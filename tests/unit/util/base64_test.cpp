#include "util/base64.h"

#include <gtest/gtest.h>

namespace consulecs::base64 {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(encode(plain), encoded);
    EXPECT_EQ(decode(encoded), plain);
  }
}

TEST(Base64, BinaryRoundTripUsesStandardAlphabet) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string encoded = encode(all);
  EXPECT_NE(encoded.find('+'), std::string::npos);
  EXPECT_NE(encoded.find('/'), std::string::npos);
  EXPECT_EQ(decode(encoded), all);
}

TEST(Base64, RejectsMalformedInput) {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v\n", "Zm-v", "Zm_v", "=Zm9", "Zm=v"}) {
    EXPECT_FALSE(decode(bad)) << bad;
  }
}

}  // namespace
}  // namespace consulecs::base64
