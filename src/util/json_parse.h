#pragma once
// The one way to parse JSON that comes from outside the process (config,
// task metadata, credentials, ECS and Consul answers): nlohmann's parser with
// a nesting limit, so a hostile or broken document is an error message and
// never a stack overflow in whatever walks the parsed value recursively
// (nlohmann's own copy and dump, the schema validator, Go-style encoding).
//
// Why 256: legitimate documents nest a handful of levels (the config at most
// ~6: proxy.upstreams[0].meshGateway.mode; an Envoy escape-hatch in
// proxy.config a few more; task metadata 4; Consul and ECS answers < 10), so
// 256 leaves a 25x margin, while every recursive walk of a 256-deep value
// stays under ~0.25 MB of stack even in the ASan build (measured in
// tests/unit/util/json_parse_test.cpp; the smallest stack we run on is the
// 8 MB default). Go's encoding/json, which the reference uses, stops at
// 10,000; serde_json at 128; Ruby's JSON at 100.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace consulecs::util {

inline constexpr std::size_t kMaxJsonDepth = 256;

// what(): "<document>: <detail>", e.g.
//   "config: proxy.config.a.a.a.a.a.a.<246 more levels>.a.a: nesting deeper than 256"
//   "task metadata: invalid JSON: parse error at line 1, column 3: ..."
class JsonParseError : public std::runtime_error {
 public:
  JsonParseError(std::string document, std::string detail, bool too_deep, std::string path);
  const std::string& document() const { return document_; }
  // Without the document prefix: "invalid JSON: ..." or "<path>: nesting deeper than 256".
  const std::string& detail() const { return detail_; }
  // True when the nesting limit was hit (the document may be well-formed).
  bool too_deep() const { return too_deep_; }
  // Where the limit was hit ("" for the root), in the config's path syntax
  // (a.b[3]["key with.dot"]); long paths keep their first and last segments.
  const std::string& path() const { return path_; }

 private:
  std::string document_;
  std::string detail_;
  bool too_deep_;
  std::string path_;
};

// Strict: a syntax error or nesting deeper than `max_depth` throws
// JsonParseError naming `document` (e.g. "config", "task metadata").
// `filter` is nlohmann's parser callback (return false to drop a value).
nlohmann::json parse_json(std::string_view text, std::string_view document,
                          const nlohmann::json::parser_callback_t& filter = nullptr,
                          std::size_t max_depth = kMaxJsonDepth);

// Lenient, like json::parse(text, filter, false): a syntax error returns a
// discarded value (is_discarded()) for the caller to report its own way; a
// document nested deeper than `max_depth` still throws JsonParseError, so it
// is never mistaken for "not JSON".
nlohmann::json parse_json_or_discarded(std::string_view text, std::string_view document,
                                       const nlohmann::json::parser_callback_t& filter = nullptr,
                                       std::size_t max_depth = kMaxJsonDepth);

}  // namespace consulecs::util
