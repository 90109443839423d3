#include "config/schema_validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace consulecs::config {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> errors(const json& schema, const json& instance) {
  std::vector<std::string> out;
  for (const auto& e : SchemaValidator(schema).validate(instance)) out.push_back(e.to_string());
  return out;
}

json object_with(const std::string& key, json property_schema) {
  return json{{"type", "object"}, {"properties", {{key, std::move(property_schema)}}}};
}

TEST(SchemaValidatorTest, TypeMismatchNamesExpectedAndActual) {
  EXPECT_THAT(errors(object_with("port", {{"type", "integer"}}), {{"port", "80"}}),
              ElementsAre("port: must be integer, got string"));
  EXPECT_THAT(errors({{"type", "object"}}, json::array()), ElementsAre("(root): must be object, got array"));
}

TEST(SchemaValidatorTest, TypeArrayAllowsNull) {
  const json schema = object_with("name", {{"type", {"string", "null"}}});
  EXPECT_THAT(errors(schema, {{"name", nullptr}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"name", "x"}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"name", true}}), ElementsAre("name: must be string or null, got boolean"));
}

TEST(SchemaValidatorTest, NullRejectedWhenTypeDoesNotListIt) {
  EXPECT_THAT(errors(object_with("hosts", {{"type", "string"}}), {{"hosts", nullptr}}),
              ElementsAre("hosts: must be string, got null"));
}

TEST(SchemaValidatorTest, IntegerIsANumberWithoutFraction) {
  const json schema = object_with("n", {{"type", "integer"}});
  EXPECT_THAT(errors(schema, {{"n", 3}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"n", -3}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"n", 3.0}}), IsEmpty());  // draft-07: 3.0 is an integer
  EXPECT_THAT(errors(schema, {{"n", 3.5}}), ElementsAre("n: must be integer, got number"));
  EXPECT_THAT(errors(object_with("n", {{"type", "number"}}), {{"n", 3}}), IsEmpty());
}

TEST(SchemaValidatorTest, EnumListsAllowedValuesIncludingNull) {
  const json schema = object_with("logLevel", {{"type", {"string", "null"}}, {"enum", {"INFO", "WARN", nullptr}}});
  EXPECT_THAT(errors(schema, {{"logLevel", nullptr}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"logLevel", "WARN"}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"logLevel", "info"}}),
              ElementsAre("logLevel: must be one of INFO, WARN, null (got \"info\")"));
}

TEST(SchemaValidatorTest, PatternIsUnanchoredEcmaRegex) {
  const json schema = object_with("v", {{"type", "string"}, {"pattern", "b+"}});
  EXPECT_THAT(errors(schema, {{"v", "abbc"}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"v", "ac"}}), ElementsAre("v: must match pattern b+ (got \"ac\")"));
  EXPECT_THAT(errors(object_with("v", {{"pattern", "b+"}}), {{"v", 5}}), IsEmpty());  // strings only
}

TEST(SchemaValidatorTest, NamePatternHasFriendlyMessage) {
  const json schema = object_with("name", {{"pattern", "(^$)|(^[a-z0-9]([a-z0-9-_]*[a-z0-9])?$)"}});
  for (const char* ok : {"", "a", "web", "my-svc_2", "0a"})
    EXPECT_THAT(errors(schema, {{"name", ok}}), IsEmpty()) << ok;
  for (const char* bad : {"Web", "-a", "a-", "a.b", "a b", "a\n"}) {
    EXPECT_THAT(errors(schema, {{"name", bad}}),
                ElementsAre(HasSubstr("name: must be lower case alphanumeric, '-' or '_', starting and ending "
                                      "with alphanumeric")))
        << bad;
  }
}

TEST(SchemaValidatorTest, OverlongPatternSubjectIsReportedNotCrashing) {
  const json schema = object_with("name", {{"pattern", "^[a-z]+$"}});
  EXPECT_THAT(errors(schema, {{"name", std::string(1024, 'a')}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"name", std::string(200000, 'a')}}), ElementsAre(HasSubstr("too long")));
  // `.*` needs no regex engine, so long meta keys stay fine.
  const json meta = {{"type", "object"}, {"patternProperties", {{".*", {{"type", "string"}}}}}};
  EXPECT_THAT(errors(meta, {{std::string(200000, 'k'), "v"}}), IsEmpty());
}

TEST(SchemaValidatorTest, RequiredReportsTheMissingPath) {
  const json schema = {
      {"type", "object"}, {"required", {"a", "b"}}, {"properties", {{"b", {{"type", "object"}, {"required", {"c"}}}}}}};
  EXPECT_THAT(errors(schema, json::object()), ElementsAre("a: is required", "b: is required"));
  EXPECT_THAT(errors(schema, {{"a", nullptr}, {"b", json::object()}}), ElementsAre("b.c: is required"));
}

TEST(SchemaValidatorTest, AdditionalPropertiesFalseRejectsUnknownKeys) {
  json schema = object_with("known", {{"type", "string"}});
  EXPECT_THAT(errors(schema, {{"known", "x"}, {"other", 1}}), IsEmpty());  // allowed by default
  schema["additionalProperties"] = false;
  EXPECT_THAT(errors(schema, {{"known", "x"}, {"other", 1}, {"more", 2}}),
              ElementsAre("more: additional property not allowed", "other: additional property not allowed"));
}

TEST(SchemaValidatorTest, AnUnknownKeyOneEditFromAKnownOneIsSuggested) {
  const json schema = {{"type", "object"},
                       {"properties",
                        {{"port", json::object()},
                         {"post", json::object()},
                         {"name", json::object()},
                         {"tags", json::object()},
                         {"id", json::object()}}},
                       {"additionalProperties", false}};
  auto message = [&](const std::string& key) { return errors(schema, {{key, 1}}).at(0); };
  EXPECT_EQ(message("nmae"), "nmae: additional property not allowed (did you mean \"name\"?)");    // swap
  EXPECT_EQ(message("nam"), "nam: additional property not allowed (did you mean \"name\"?)");      // deletion
  EXPECT_EQ(message("names"), "names: additional property not allowed (did you mean \"name\"?)");  // insertion
  EXPECT_EQ(message("tage"), "tage: additional property not allowed (did you mean \"tags\"?)");    // substitution
  EXPECT_EQ(message("TAGS"), "TAGS: additional property not allowed (did you mean \"tags\"?)");    // case
  EXPECT_EQ(message("pot"), "pot: additional property not allowed (did you mean \"port\" or \"post\"?)");
  EXPECT_EQ(message("nxmo"), "nxmo: additional property not allowed");  // two substitutions
  EXPECT_EQ(message("mane"), "mane: additional property not allowed");  // a swap that is not of neighbours
  EXPECT_EQ(message(""), "[\"\"]: additional property not allowed");
  // Under three letters one edit reaches nearly anything.
  EXPECT_EQ(message("ic"), "ic: additional property not allowed");
  EXPECT_EQ(message("ID"), "ID: additional property not allowed (did you mean \"id\"?)");  // case still counts
  // Without properties there is nothing to suggest.
  EXPECT_THAT(errors({{"type", "object"}, {"additionalProperties", false}}, {{"x", 1}}),
              ElementsAre("x: additional property not allowed"));
}

TEST(SchemaValidatorTest, AdditionalPropertiesSchemaValidatesUnknownKeys) {
  json schema = object_with("known", {{"type", "string"}});
  schema["additionalProperties"] = {{"type", "integer"}};
  EXPECT_THAT(errors(schema, {{"known", "x"}, {"n", 1}, {"s", "x"}}), ElementsAre("s: must be integer, got string"));
}

TEST(SchemaValidatorTest, PatternPropertiesRequireStringMetaValues) {
  const json schema = object_with(
      "meta", {{"type", {"object", "null"}}, {"patternProperties", {{".*", {{"type", "string"}}}}}});
  EXPECT_THAT(errors(schema, {{"meta", {{"a", "1"}}}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"meta", {{"a", 1}, {"consul.hashicorp.com/x", true}}}}),
              ElementsAre("meta.a: must be string, got integer",
                          "meta[\"consul.hashicorp.com/x\"]: must be string, got boolean"));
}

TEST(SchemaValidatorTest, PatternPropertiesAreNotAdditional) {
  const json schema = {
      {"type", "object"}, {"patternProperties", {{"^x-", {{"type", "string"}}}}}, {"additionalProperties", false}};
  EXPECT_THAT(errors(schema, {{"x-a", "1"}, {"y", "1"}}), ElementsAre("y: additional property not allowed"));
}

TEST(SchemaValidatorTest, ItemsAndUniqueItems) {
  const json schema = object_with("tags", {{"type", "array"}, {"items", {{"type", "string"}}}, {"uniqueItems", true}});
  EXPECT_THAT(errors(schema, {{"tags", {"a", "b"}}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"tags", {"a", 1}}}), ElementsAre("tags[1]: must be string, got integer"));
  EXPECT_THAT(errors(schema, {{"tags", {"a", "b", "a"}}}),
              ElementsAre("tags: items must be unique, but [0] and [2] are both \"a\""));
}

TEST(SchemaValidatorTest, MinLengthCountsCodePoints) {
  const json schema = object_with("dir", {{"type", "string"}, {"minLength", 2}});
  EXPECT_THAT(errors(schema, {{"dir", "ab"}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"dir", "\xc3\xa9\xc3\xa9"}}), IsEmpty());  // "éé": 4 bytes, 2 code points
  EXPECT_THAT(errors(schema, {{"dir", "\xc3\xa9"}}), ElementsAre("dir: must be at least 2 character(s) long, got 1"));
}

TEST(SchemaValidatorTest, MinimumAndMaximum) {
  const json schema = object_with("p", {{"type", "integer"}, {"minimum", 1}, {"maximum", 10}});
  EXPECT_THAT(errors(schema, {{"p", 10}}), IsEmpty());
  EXPECT_THAT(errors(schema, {{"p", 0}}), ElementsAre("p: must be >= 1, got 0"));
  EXPECT_THAT(errors(schema, {{"p", 11}}), ElementsAre("p: must be <= 10, got 11"));
}

TEST(SchemaValidatorTest, CollectsEveryErrorAtOnce) {
  const json schema = {{"type", "object"},
                       {"required", {"a"}},
                       {"additionalProperties", false},
                       {"properties",
                        {{"b", {{"type", "integer"}}},
                         {"c", {{"type", "array"}, {"items", {{"type", "object"}, {"required", {"d"}}}}}}}}};
  EXPECT_THAT(errors(schema, {{"b", "x"}, {"c", {json::object(), 5}}, {"z", 1}}),
              ElementsAre("a: is required", "b: must be integer, got string", "c[0].d: is required",
                          "c[1]: must be object, got integer", "z: additional property not allowed"));
}

TEST(SchemaValidatorTest, IgnoresUnknownKeywordsAndAnnotations) {
  const json schema = {{"type", "object"},
                       {"description", "d"},
                       {"title", "t"},
                       {"properties", {{"a", {{"type", "string"}}}}},
                       {"expose", {{"type", "object"}, {"properties", {{"checks", {{"type", "boolean"}}}}}}}};
  EXPECT_THAT(errors(schema, {{"expose", "not checked"}}), IsEmpty());
}

TEST(SchemaValidatorTest, BooleanSchemas) {
  EXPECT_THAT(errors(object_with("a", false), {{"a", 1}}), ElementsAre("a: is not allowed"));
  EXPECT_THAT(errors(object_with("a", true), {{"a", 1}}), IsEmpty());
}

TEST(SchemaValidatorTest, RejectsSchemasItCannotFullyEnforce) {
  EXPECT_THROW(SchemaValidator(json{{"oneOf", json::array()}}), std::invalid_argument);
  EXPECT_THROW(SchemaValidator(object_with("a", {{"$ref", "#/x"}})), std::invalid_argument);
  EXPECT_THROW(SchemaValidator(json{{"type", "float"}}), std::invalid_argument);
  EXPECT_THROW(SchemaValidator(json{{"pattern", "("}}), std::invalid_argument);
  EXPECT_THROW(SchemaValidator(json(5)), std::invalid_argument);
}

}  // namespace
}  // namespace consulecs::config
