#include "util/json_parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>

#include <functional>
#include <string>

#include "config/config.h"

namespace consulecs::util {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string nested_arrays(std::size_t depth, bool closed = true) {
  return std::string(depth, '[') + (closed ? std::string(depth, ']') : std::string());
}

std::string nested_objects(std::size_t depth, const std::string& key = "a") {
  std::string out;
  for (std::size_t i = 0; i < depth; ++i) out += "{\"" + key + "\":";
  out += "1";
  out += std::string(depth, '}');
  return out;
}

JsonParseError parse_error_of(const std::string& text, std::string_view document = "doc") {
  try {
    (void)parse_json(text, document);
  } catch (const JsonParseError& e) {
    return e;
  }
  ADD_FAILURE() << "no JsonParseError for " << text.substr(0, 80);
  return JsonParseError("", "", false, "");
}

// Runs `body` on a thread with a small stack: a recursion that would need
// more crashes the test instead of passing silently on the 8 MB main stack.
void on_small_stack(std::size_t stack_bytes, const std::function<void()>& body) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, stack_bytes), 0);
  auto* heap_body = new std::function<void()>(body);
  pthread_t thread;
  ASSERT_EQ(pthread_create(
                &thread, &attr,
                [](void* arg) -> void* {
                  auto* fn = static_cast<std::function<void()>*>(arg);
                  try {
                    (*fn)();
                  } catch (const std::exception& e) {
                    ADD_FAILURE() << "exception on the small stack: " << e.what();
                  }
                  delete fn;
                  return nullptr;
                },
                heap_body),
            0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

TEST(JsonParse, ParsesLikeNlohmann) {
  const std::string text = R"({"a":[1,2.5,"x",null,true,{"b":[]}],"c":{}})";
  EXPECT_EQ(parse_json(text, "doc"), json::parse(text));
  EXPECT_EQ(parse_json("  42 ", "doc"), json(42));
  EXPECT_EQ(parse_json("18446744073709551615", "doc"), json::parse("18446744073709551615"));
}

TEST(JsonParse, AcceptsTheLimitAndRejectsOneMore) {
  EXPECT_NO_THROW(parse_json(nested_arrays(kMaxJsonDepth), "doc"));
  EXPECT_NO_THROW(parse_json(nested_objects(kMaxJsonDepth), "doc"));
  const auto arrays = parse_error_of(nested_arrays(kMaxJsonDepth + 1));
  EXPECT_TRUE(arrays.too_deep());
  const auto objects = parse_error_of(nested_objects(kMaxJsonDepth + 1));
  EXPECT_TRUE(objects.too_deep());
  EXPECT_THAT(objects.what(), HasSubstr("nesting deeper than 256"));
}

TEST(JsonParse, CustomLimit) {
  EXPECT_NO_THROW(parse_json("[[1]]", "doc", nullptr, 2));
  EXPECT_THROW(parse_json("[[[1]]]", "doc", nullptr, 2), JsonParseError);
  // The root container counts as one level.
  EXPECT_THROW(parse_json("[]", "doc", nullptr, 0), JsonParseError);
  EXPECT_NO_THROW(parse_json("1", "doc", nullptr, 0));
}

TEST(JsonParse, NamesDocumentAndPath) {
  try {
    (void)parse_json(R"({"proxy":{"config":{"x":[0,1,{"y":[[[1]]]}]}}})", "config", nullptr, 6);
    FAIL() << "no error";
  } catch (const JsonParseError& error) {
    EXPECT_TRUE(error.too_deep());
    EXPECT_EQ(error.document(), "config");
    EXPECT_EQ(error.path(), "proxy.config.x[2].y[0]");
    EXPECT_EQ(error.detail(), "proxy.config.x[2].y[0]: nesting deeper than 6");
    EXPECT_STREQ(error.what(), "config: proxy.config.x[2].y[0]: nesting deeper than 6");
  }
}

TEST(JsonParse, QuotesKeysThatAreNotIdentifiers) {
  try {
    (void)parse_json(R"({"meta":{"consul.hashicorp.com/x":{"1":[[]]}}})", "doc", nullptr, 4);
    FAIL() << "no error";
  } catch (const JsonParseError& error) {
    EXPECT_EQ(error.path(), R"(meta["consul.hashicorp.com/x"]["1"][0])");
  }
}

TEST(JsonParse, RootTooDeep) {
  try {
    (void)parse_json("[]", "doc", nullptr, 0);
    FAIL() << "no error";
  } catch (const JsonParseError& error) {
    EXPECT_EQ(error.path(), "");
    EXPECT_EQ(error.detail(), "(root): nesting deeper than 0");
  }
}

TEST(JsonParse, AbbreviatesLongPaths) {
  const auto e = parse_error_of(nested_objects(100000));
  EXPECT_EQ(e.path(), "a.a.a.a.a.a.a.a.<246 more levels>.a.a");
  const auto arrays = parse_error_of(nested_arrays(100000));
  EXPECT_EQ(arrays.path(), "[0][0][0][0][0][0][0][0].<246 more levels>[0][0]");
  // Long keys are cut.
  const auto long_key = parse_error_of(nested_objects(300, std::string(1000, 'k')));
  EXPECT_LT(long_key.path().size(), 1000u);
}

TEST(JsonParse, HundredThousandDeepIsAnErrorNotACrash) {
  for (const std::string& text : {nested_arrays(100000), nested_arrays(100000, false), nested_objects(100000),
                                  std::string(R"({"a":)") + nested_arrays(1000000, false)}) {
    EXPECT_THROW(parse_json(text, "doc"), JsonParseError);
    EXPECT_THROW(parse_json_or_discarded(text, "doc"), JsonParseError);
  }
}

TEST(JsonParse, SyntaxErrors) {
  const auto e = parse_error_of("{\n\"a\": 1,\n", "config");
  EXPECT_FALSE(e.too_deep());
  EXPECT_THAT(e.detail(), StartsWith("invalid JSON: parse error at line 3, column 1"));
  EXPECT_THAT(e.what(), StartsWith("config: invalid JSON: "));
  EXPECT_FALSE(parse_error_of("").too_deep());
  EXPECT_FALSE(parse_error_of("[1] x").too_deep());  // trailing garbage: strict
  EXPECT_TRUE(parse_json_or_discarded("{", "doc").is_discarded());
  EXPECT_TRUE(parse_json_or_discarded("", "doc").is_discarded());
  EXPECT_TRUE(parse_json_or_discarded("[1] x", "doc").is_discarded());
  EXPECT_EQ(parse_json_or_discarded("[1]", "doc"), json::array({1}));
}

TEST(JsonParse, FilterBehavesAsNlohmannsCallback) {
  const std::string text = R"({"tasks":[{"taskArn":"t","containers":[1,2]}],"drop":{"x":1}})";
  const json::parser_callback_t keep = [](int depth, json::parse_event_t event, json& parsed) {
    if (event != json::parse_event_t::key || depth != 1 || !parsed.is_string()) return true;
    return parsed.get<std::string>() != "drop";
  };
  EXPECT_EQ(parse_json_or_discarded(text, "doc", keep), json::parse(text, keep, false));
  EXPECT_EQ(parse_json(text, "doc", keep), json::parse(text, keep));
  // A discarded top level reads as null, as with json::parse.
  const json::parser_callback_t drop_all = [](int, json::parse_event_t, json&) { return false; };
  EXPECT_EQ(parse_json("[1]", "doc", drop_all), json::parse("[1]", drop_all));
  EXPECT_TRUE(parse_json_or_discarded("[1", "doc", keep).is_discarded());
}

// With the limit in place, every recursive walk of a value at the limit fits
// in 1 MB of stack (the default is 8 MB), even in the ASan build.
TEST(JsonParse, ValuesAtTheLimitAreSafeToWalk) {
  on_small_stack(1 << 20, [] {
    for (const std::string& text : {nested_arrays(kMaxJsonDepth), nested_objects(kMaxJsonDepth)}) {
      json value = parse_json(text, "doc");
      json copy = value;                           // recursive copy
      EXPECT_EQ(copy, value);                      // recursive comparison
      EXPECT_EQ(copy.dump().size(), text.size());  // recursive dump
      EXPECT_EQ(json::parse(copy.dump()), value);
    }
  });
}

TEST(JsonParse, ConfigAtTheLimitLoadsOnASmallStack) {
  // proxy.config is opaque: the config reader copies it and the registration
  // dumps it. 3 levels are taken by {"proxy":{"config":...}}.
  const std::string deep = nested_objects(kMaxJsonDepth - 2);
  const std::string text = R"({"bootstrapDir":"/consul","consulServers":{"hosts":"consul"},"proxy":{"config":)" + deep +
                           "}}";
  on_small_stack(1 << 20, [&] {
    const config::Config cfg = config::load_config(text);
    ASSERT_TRUE(cfg.proxy && cfg.proxy->config);
    EXPECT_EQ(cfg.proxy->config->dump(), deep);
  });
}

TEST(JsonParse, ConfigOneLevelTooDeepIsAConfigError) {
  const std::string text = R"({"bootstrapDir":"/consul","proxy":{"config":)" + nested_objects(kMaxJsonDepth - 1) + "}}";
  try {
    (void)config::load_config(text);
    FAIL() << "no error";
  } catch (const config::ConfigError& e) {
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0], "proxy.config.a.a.a.a.a.a.<246 more levels>.a.a: nesting deeper than 256");
  }
}

}  // namespace
}  // namespace consulecs::util
