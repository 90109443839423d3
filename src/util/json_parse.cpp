#include "util/json_parse.h"

#include <fmt/format.h>

#include <optional>
#include <utility>
#include <vector>

namespace consulecs::util {
namespace {

using nlohmann::json;

bool is_identifier(std::string_view key) {
  if (key.empty()) return false;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// One open container while parsing: which member or element of it is being
// parsed, for the error path.
struct Frame {
  bool array = false;
  std::size_t index = 0;  // arrays: the element being parsed
  std::string key;        // objects: the member being parsed
};

std::string segment(const Frame& frame, bool first) {
  if (frame.array) return fmt::format("[{}]", frame.index);
  constexpr std::size_t kMaxKey = 64;
  std::string key = frame.key.size() > kMaxKey ? frame.key.substr(0, kMaxKey) + "..." : frame.key;
  if (!is_identifier(frame.key))
    return fmt::format("[{}]", json(key).dump(-1, ' ', false, json::error_handler_t::replace));
  return first ? key : "." + key;
}

// "a.b[2].c"; a longer path keeps its first 8 and last 2 segments:
// "a.a.a.a.a.a.a.a.<246 more levels>.a.a".
std::string format_path(const std::vector<Frame>& frames) {
  constexpr std::size_t kHead = 8;
  constexpr std::size_t kTail = 2;
  std::string out;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames.size() > kHead + kTail + 1 && i == kHead) {
      out += fmt::format(".<{} more levels>", frames.size() - kHead - kTail);
      i = frames.size() - kTail - 1;
      continue;
    }
    out += segment(frames[i], i == 0);
  }
  return out;
}

// Forwards every SAX event to nlohmann's DOM builder (`Inner`) and stops the
// parse, without recursion and before anything deep is built, at the first
// container that would nest deeper than the limit.
template <typename Inner>
class DepthLimit {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  DepthLimit(Inner& inner, std::size_t max_depth) : inner_(inner), max_depth_(max_depth) {}

  bool null() { return value(inner_.null()); }
  bool boolean(bool v) { return value(inner_.boolean(v)); }
  bool number_integer(number_integer_t v) { return value(inner_.number_integer(v)); }
  bool number_unsigned(number_unsigned_t v) { return value(inner_.number_unsigned(v)); }
  bool number_float(number_float_t v, const string_t& s) { return value(inner_.number_float(v, s)); }
  bool string(string_t& v) { return value(inner_.string(v)); }
  bool binary(binary_t& v) { return value(inner_.binary(v)); }

  bool start_object(std::size_t n) { return enter(false) && inner_.start_object(n); }
  bool start_array(std::size_t n) { return enter(true) && inner_.start_array(n); }
  bool end_object() { return leave(inner_.end_object()); }
  bool end_array() { return leave(inner_.end_array()); }
  bool key(string_t& k) {
    frames_.back().key = k;
    return inner_.key(k);
  }

  bool parse_error(std::size_t position, const std::string& last_token, const nlohmann::detail::exception& ex) {
    std::string_view what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 1: ..."
    if (const auto pos = what.find("] "); pos != std::string_view::npos) what.remove_prefix(pos + 2);
    syntax_error_ = std::string(what);
    return inner_.parse_error(position, last_token, ex);
  }

  const std::optional<std::string>& too_deep_path() const { return too_deep_path_; }
  const std::optional<std::string>& syntax_error() const { return syntax_error_; }

 private:
  bool value(bool keep_going) {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return keep_going;
  }
  bool enter(bool array) {
    if (frames_.size() >= max_depth_) {
      too_deep_path_ = format_path(frames_);
      return false;
    }
    frames_.push_back(Frame{array, 0, {}});
    return true;
  }
  bool leave(bool keep_going) {
    frames_.pop_back();
    return value(keep_going);
  }

  Inner& inner_;
  std::size_t max_depth_;
  std::vector<Frame> frames_;
  std::optional<std::string> too_deep_path_;
  std::optional<std::string> syntax_error_;
};

template <typename Inner>
json run(Inner& inner, json& result, std::string_view text, std::string_view document, std::size_t max_depth,
         bool strict) {
  DepthLimit<Inner> sax(inner, max_depth);
  const bool ok = json::sax_parse(text, &sax, json::input_format_t::json, /*strict=*/true);
  if (sax.too_deep_path()) {
    const std::string& path = *sax.too_deep_path();
    throw JsonParseError(std::string(document),
                         fmt::format("{}: nesting deeper than {}", path.empty() ? "(root)" : path, max_depth), true,
                         path);
  }
  if (!ok || inner.is_errored()) {
    if (!strict) return json(json::value_t::discarded);
    throw JsonParseError(std::string(document),
                         "invalid JSON: " + sax.syntax_error().value_or(std::string("syntax error")), false, "");
  }
  // As json::parse: a top-level value the filter discarded reads as null.
  if (result.is_discarded()) return nullptr;
  return std::move(result);
}

json parse(std::string_view text, std::string_view document, const json::parser_callback_t& filter,
           std::size_t max_depth, bool strict) {
  json result;
  if (!filter) {
    nlohmann::detail::json_sax_dom_parser<json> dom(result, /*allow_exceptions=*/false);
    return run(dom, result, text, document, max_depth, strict);
  }
  nlohmann::detail::json_sax_dom_callback_parser<json> dom(result, filter, /*allow_exceptions=*/false);
  return run(dom, result, text, document, max_depth, strict);
}

}  // namespace

JsonParseError::JsonParseError(std::string document, std::string detail, bool too_deep, std::string path)
    : std::runtime_error(document + ": " + detail),
      document_(std::move(document)),
      detail_(std::move(detail)),
      too_deep_(too_deep),
      path_(std::move(path)) {}

json parse_json(std::string_view text, std::string_view document, const json::parser_callback_t& filter,
                std::size_t max_depth) {
  return parse(text, document, filter, max_depth, true);
}

json parse_json_or_discarded(std::string_view text, std::string_view document, const json::parser_callback_t& filter,
                             std::size_t max_depth) {
  return parse(text, document, filter, max_depth, false);
}

}  // namespace consulecs::util
