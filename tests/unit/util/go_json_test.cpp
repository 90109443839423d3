#include "util/go_json.h"

#include <gtest/gtest.h>

namespace consulecs::gojson {
namespace {

TEST(GoJson, QuoteEscapesLikeEncodingJson) {
  EXPECT_EQ(quote("plain"), R"("plain")");
  EXPECT_EQ(quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quote("\n\r\t"), R"("\n\r\t")");
  EXPECT_EQ(quote(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\x7f\"");
  EXPECT_EQ(quote("<a&b>"), R"("\u003ca\u0026b\u003e")");
  EXPECT_EQ(quote("/+="), R"("/+=")");
  EXPECT_EQ(quote("\u1234 \u00e9"), "\"\u1234 \u00e9\"");
  EXPECT_EQ(quote("\u2028\u2029"), R"("\u2028\u2029")");
  EXPECT_EQ(quote("a\xff"
                  "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // encoded surrogate
  EXPECT_EQ(quote("\xc0\xaf"), R"("\ufffd\ufffd")");            // overlong
}

TEST(GoJson, MarshalMapsSortKeys) {
  EXPECT_EQ(marshal(std::map<std::string, std::string>{{"b", "2"}, {"a", "1"}, {"B", "3"}}),
            R"({"B":"3","a":"1","b":"2"})");
  EXPECT_EQ(marshal(std::map<std::string, std::string>{}), "{}");
  EXPECT_EQ(marshal(std::map<std::string, std::vector<std::string>>{{"X", {"1", "2"}}, {"A", {"&"}}}),
            R"({"A":["\u0026"],"X":["1","2"]})");
}

}  // namespace
}  // namespace consulecs::gojson
