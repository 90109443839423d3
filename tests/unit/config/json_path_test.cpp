#include "config/json_path.h"

#include <gtest/gtest.h>

#include <limits>

namespace consulecs::config {
namespace {

using nlohmann::json;

TEST(JsonPathTest, KeysAreDottedAndNonPlainKeysQuoted) {
  EXPECT_EQ(path_key("", "service"), "service");
  EXPECT_EQ(path_key("service", "name"), "service.name");
  EXPECT_EQ(path_key("service.meta", "task-id"), "service.meta.task-id");
  EXPECT_EQ(path_key("service.meta", "a.b"), "service.meta[\"a.b\"]");
  EXPECT_EQ(path_key("service.meta", "consul.hashicorp.com/x"), R"(service.meta["consul.hashicorp.com/x"])");
  EXPECT_EQ(path_key("", "with space"), R"(["with space"])");
  EXPECT_EQ(path_key("m", ""), R"(m[""])");
  EXPECT_EQ(path_key("m", "q\"uote"), R"(m["q\"uote"])");
}

TEST(JsonPathTest, IndexesAreBracketed) {
  EXPECT_EQ(path_index("proxy.upstreams", 2), "proxy.upstreams[2]");
  EXPECT_EQ(path_index("", 0), "[0]");
  EXPECT_EQ(path_key(path_index("proxy.upstreams", 0), "localBindPort"), "proxy.upstreams[0].localBindPort");
}

TEST(JsonPathTest, WithinMeansTheSamePathOrInsideIt) {
  EXPECT_TRUE(path_within("service.name", "service.name"));
  EXPECT_TRUE(path_within("service.name", "service"));
  EXPECT_TRUE(path_within("proxy.upstreams[0].localBindPort", "proxy.upstreams"));
  EXPECT_TRUE(path_within("proxy.upstreams[0]", "proxy.upstreams"));
  EXPECT_TRUE(path_within("anything", ""));  // the root holds every path
  EXPECT_FALSE(path_within("serviceName", "service"));
  EXPECT_FALSE(path_within("service", "service.name"));
  EXPECT_FALSE(path_within("proxy", "gateway"));
}

TEST(JsonPathTest, TypeNamesCallWholeFloatsIntegers) {
  EXPECT_EQ(json_type_name(json(nullptr)), "null");
  EXPECT_EQ(json_type_name(json(true)), "boolean");
  EXPECT_EQ(json_type_name(json(-3)), "integer");
  EXPECT_EQ(json_type_name(json(18446744073709551615ULL)), "integer");
  EXPECT_EQ(json_type_name(json(2.0)), "integer");
  EXPECT_EQ(json_type_name(json(2.5)), "number");
  EXPECT_EQ(json_type_name(json("x")), "string");
  EXPECT_EQ(json_type_name(json::array()), "array");
  EXPECT_EQ(json_type_name(json::object()), "object");
  EXPECT_FALSE(is_integer_valued(json(std::numeric_limits<double>::infinity())));
  EXPECT_FALSE(is_integer_valued(json("1")));
}

}  // namespace
}  // namespace consulecs::config
