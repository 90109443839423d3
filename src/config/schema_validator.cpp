// GCC 12 reports false -Wmaybe-uninitialized inside libstdc++'s <regex> when
// optimising with sanitizers; the pragma must precede every include. (clang
// has no such warning and would reject the unknown name.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "config/schema_validator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <numeric>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "config/json_path.h"

namespace consulecs::config {
namespace {

using nlohmann::json;

// Draft-07 assertions we do not implement: refusing them beats silently
// accepting documents the reference would reject. (A table: clang-format
// would put one name per line.)
// clang-format off
const std::set<std::string, std::less<>> kUnsupportedKeywords = {
    "$ref",             "allOf",            "anyOf",         "oneOf",        "not",
    "if",               "then",             "else",          "const",        "multipleOf",
    "exclusiveMinimum", "exclusiveMaximum", "minItems",      "maxItems",     "contains",
    "additionalItems",  "minProperties",    "maxProperties", "dependencies", "propertyNames"};
// clang-format on

const std::set<std::string, std::less<>> kTypeNames = {"null",   "boolean", "integer", "number",
                                                       "string", "array",   "object"};

// Human wording for patterns the consul-ecs schemas use; others are quoted.
std::string describe_pattern(const std::string& pattern) {
  if (pattern == "(^$)|(^[a-z0-9]([a-z0-9-_]*[a-z0-9])?$)") {
    return "must be lower case alphanumeric, '-' or '_', starting and ending with alphanumeric";
  }
  return fmt::format("must match pattern {}", pattern);
}

// libstdc++'s std::regex recurses once per input character and overflows the
// stack on subjects of some ten thousand characters; nothing legitimate
// (service names, meta keys) comes near this bound.
constexpr std::size_t kMaxPatternSubject = 1024;

// `.*` matches every string; skipping the engine keeps long meta keys safe.
bool matches_everything(const std::string& pattern) { return pattern.empty() || pattern == ".*"; }

[[noreturn]] void bad_schema(const std::string& where, std::string_view problem) {
  throw std::invalid_argument(fmt::format("schema {}: {}", where.empty() ? "(root)" : where, problem));
}

// minLength counts Unicode code points, not bytes.
std::size_t code_points(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool has_type(const json& value, std::string_view type) {
  if (type == "integer") return is_integer_valued(value);
  return json_type_name(value) == type || (type == "number" && value.is_number());
}

// A short rendering of a value for messages; long values are cut.
std::string show(const json& value) {
  std::string s = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

std::string join_alternatives(const std::vector<std::string>& items) {
  if (items.size() == 1) return items[0];
  std::string out;
  for (std::size_t i = 0; i + 1 < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + " or " + items.back();
}

// One insertion, deletion, substitution or swap of two neighbours turns one
// into the other (the typos a hand-written key gets).
bool one_edit_apart(std::string_view a, std::string_view b) {
  if (a == b) return false;
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1) return false;
  std::size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;
  if (a.size() < b.size()) return a.substr(i) == b.substr(i + 1);
  if (a.substr(i + 1) == b.substr(i + 1)) return true;
  return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] && a.substr(i + 2) == b.substr(i + 2);
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

// " (did you mean "bootstrapDir"?)" when `key` is a typo of a known property.
// Keys under three letters are one edit from nearly anything: no guess.
std::string did_you_mean(std::string_view key, const json* properties) {
  if (properties == nullptr) return {};
  constexpr std::size_t kShortest = 3;
  std::vector<std::string> near;
  for (const auto& [known, _] : properties->items()) {
    const bool typo = std::min(key.size(), known.size()) >= kShortest && one_edit_apart(key, known);
    if (typo || (key != known && equal_ignoring_case(key, known))) {
      near.push_back(json(known).dump());
    }
  }
  return near.empty() ? std::string() : fmt::format(" (did you mean {}?)", join_alternatives(near));
}

}  // namespace

std::string ValidationError::to_string() const {
  return fmt::format("{}: {}", path.empty() ? "(root)" : path, message);
}

struct SchemaValidator::Impl {
  json schema;
  std::map<std::string, std::regex> regexes;  // every pattern and patternProperties key, compiled once

  void compile(const std::string& pattern, const std::string& where) {
    if (regexes.count(pattern) || matches_everything(pattern)) return;
    try {
      regexes.emplace(pattern, std::regex(pattern, std::regex::ECMAScript));
    } catch (const std::regex_error& e) {
      bad_schema(where, fmt::format("invalid pattern {}: {}", pattern, e.what()));
    }
  }

  // Checks the schema's shape once so validation can trust it.
  void prepare(const json& s, const std::string& where) {
    if (s.is_boolean()) return;
    if (!s.is_object()) bad_schema(where, "must be an object or boolean");
    for (const auto& [keyword, _] : s.items()) {
      if (kUnsupportedKeywords.count(keyword)) {
        bad_schema(where, fmt::format("keyword {} is not supported", keyword));
      }
    }
    if (auto it = s.find("type"); it != s.end()) {
      const json types = it->is_array() ? *it : json::array({*it});
      for (const auto& t : types) {
        if (!t.is_string() || !kTypeNames.count(t.get<std::string>())) {
          bad_schema(where, fmt::format("bad type {}", t.dump()));
        }
      }
    }
    if (auto it = s.find("enum"); it != s.end() && !it->is_array()) {
      bad_schema(where, "enum must be an array");
    }
    if (auto it = s.find("required"); it != s.end()) {
      if (!it->is_array() || !std::all_of(it->begin(), it->end(), [](const json& r) { return r.is_string(); })) {
        bad_schema(where, "required must be an array of strings");
      }
    }
    for (const char* number_keyword : {"minLength", "maxLength", "minimum", "maximum"}) {
      if (auto it = s.find(number_keyword); it != s.end() && !it->is_number()) {
        bad_schema(where, fmt::format("{} must be a number", number_keyword));
      }
    }
    if (auto it = s.find("pattern"); it != s.end()) {
      if (!it->is_string()) bad_schema(where, "pattern must be a string");
      compile(it->get<std::string>(), where);
    }
    if (auto it = s.find("properties"); it != s.end()) {
      if (!it->is_object()) bad_schema(where, "properties must be an object");
      for (const auto& [name, sub] : it->items()) prepare(sub, path_key(where, name));
    }
    if (auto it = s.find("patternProperties"); it != s.end()) {
      if (!it->is_object()) {
        bad_schema(where, "patternProperties must be an object");
      }
      for (const auto& [pattern, sub] : it->items()) {
        compile(pattern, where);
        prepare(sub, fmt::format("{}/{}", where, pattern));
      }
    }
    if (auto it = s.find("additionalProperties"); it != s.end()) prepare(*it, where + "/additionalProperties");
    if (auto it = s.find("items"); it != s.end()) {
      if (it->is_array()) {
        for (std::size_t i = 0; i < it->size(); ++i) prepare((*it)[i], path_index(where, i));
      } else {
        prepare(*it, where + "[]");
      }
    }
  }

  bool search(const std::string& pattern, const std::string& subject) const {
    if (matches_everything(pattern)) return true;
    return std::regex_search(subject, regexes.at(pattern));
  }

  void check(const json& s, const json& value, const std::string& path, std::vector<ValidationError>& out) const {
    auto fail = [&](std::string where, std::string message) {
      out.push_back(ValidationError{std::move(where), std::move(message)});
    };
    if (s.is_boolean()) {
      if (!s.get<bool>()) fail(path, "is not allowed");
      return;
    }

    if (auto it = s.find("type"); it != s.end()) {
      const json types = it->is_array() ? *it : json::array({*it});
      const bool ok = std::any_of(types.begin(), types.end(),
                                  [&](const json& t) { return has_type(value, t.get<std::string>()); });
      if (!ok) {
        std::vector<std::string> names;
        for (const auto& t : types) names.push_back(t.get<std::string>());
        fail(path, fmt::format("must be {}, got {}", join_alternatives(names), json_type_name(value)));
      }
    }

    if (auto it = s.find("enum"); it != s.end()) {
      if (std::find(it->begin(), it->end(), value) == it->end()) {
        std::string allowed;
        for (const auto& e : *it) {
          allowed += (allowed.empty() ? "" : ", ") + (e.is_string() ? e.get<std::string>() : e.dump());
        }
        fail(path, fmt::format("must be one of {} (got {})", allowed, show(value)));
      }
    }

    if (value.is_string()) check_string(s, value.get_ref<const std::string&>(), path, out);
    if (value.is_number()) check_number(s, value, path, out);
    if (value.is_object()) check_object(s, value, path, out);
    if (value.is_array()) check_array(s, value, path, out);
  }

  void check_string(const json& s, const std::string& str, const std::string& path,
                    std::vector<ValidationError>& out) const {
    const std::size_t length = code_points(str);
    if (auto it = s.find("minLength"); it != s.end() && static_cast<double>(length) < it->get<double>()) {
      out.push_back({path, fmt::format("must be at least {} character(s) long, got {}", it->dump(), length)});
    }
    if (auto it = s.find("maxLength"); it != s.end() && static_cast<double>(length) > it->get<double>()) {
      out.push_back({path, fmt::format("must be at most {} character(s) long, got {}", it->dump(), length)});
    }
    if (auto it = s.find("pattern"); it != s.end()) {
      const auto& pattern = it->get_ref<const std::string&>();
      if (!matches_everything(pattern) && str.size() > kMaxPatternSubject) {
        out.push_back({path, fmt::format("is too long to check against pattern {} ({} bytes, limit {})", pattern,
                                         str.size(), kMaxPatternSubject)});
      } else if (!search(pattern, str)) {
        out.push_back({path, fmt::format("{} (got {})", describe_pattern(pattern), show(json(str)))});
      }
    }
  }

  static void check_number(const json& s, const json& value, const std::string& path,
                           std::vector<ValidationError>& out) {
    const double d = value.get<double>();
    if (auto it = s.find("minimum"); it != s.end() && d < it->get<double>()) {
      out.push_back({path, fmt::format("must be >= {}, got {}", it->dump(), value.dump())});
    }
    if (auto it = s.find("maximum"); it != s.end() && d > it->get<double>()) {
      out.push_back({path, fmt::format("must be <= {}, got {}", it->dump(), value.dump())});
    }
  }

  void check_object(const json& s, const json& value, const std::string& path,
                    std::vector<ValidationError>& out) const {
    if (auto it = s.find("required"); it != s.end()) {
      for (const auto& name : *it) {
        if (!value.contains(name.get<std::string>()))
          out.push_back({path_key(path, name.get<std::string>()), "is required"});
      }
    }
    const auto properties = s.find("properties");
    const auto patterns = s.find("patternProperties");
    const auto additional = s.find("additionalProperties");
    for (const auto& [key, member] : value.items()) {
      const std::string member_path = path_key(path, key);
      bool matched = false;
      if (properties != s.end()) {
        if (auto p = properties->find(key); p != properties->end()) {
          matched = true;
          check(*p, member, member_path, out);
        }
      }
      if (patterns != s.end()) {
        for (const auto& [pattern, sub] : patterns->items()) {
          // Over-long keys cannot be matched safely; treat them as unmatched.
          if (key.size() <= kMaxPatternSubject || matches_everything(pattern)) {
            if (search(pattern, key)) {
              matched = true;
              check(sub, member, member_path, out);
            }
          }
        }
      }
      if (matched || additional == s.end()) continue;
      if (additional->is_boolean() && !additional->get<bool>()) {
        out.push_back({member_path, "additional property not allowed" +
                                        did_you_mean(key, properties != s.end() ? &*properties : nullptr)});
      } else {
        check(*additional, member, member_path, out);
      }
    }
  }

  void check_array(const json& s, const json& value, const std::string& path, std::vector<ValidationError>& out) const {
    if (auto it = s.find("items"); it != s.end()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (!it->is_array()) {
          check(*it, value[i], path_index(path, i), out);
        } else if (i < it->size()) {
          check((*it)[i], value[i], path_index(path, i), out);
        }
      }
    }
    if (auto it = s.find("uniqueItems"); it != s.end() && it->is_boolean() && it->get<bool>()) {
      // Sort indices by value so large arrays stay O(n log n); report the
      // earliest duplicate pair.
      std::vector<std::size_t> order(value.size());
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return value[a] < value[b]; });
      std::optional<std::pair<std::size_t, std::size_t>> dup;
      for (std::size_t i = 1; i < order.size(); ++i) {
        if (value[order[i - 1]] == value[order[i]]) {
          std::pair<std::size_t, std::size_t> pair{order[i - 1], order[i]};
          if (!dup || pair.second < dup->second) dup = pair;
        }
      }
      if (dup) {
        out.push_back({path, fmt::format("items must be unique, but [{}] and [{}] are both {}", dup->first, dup->second,
                                         show(value[dup->first]))});
      }
    }
  }
};

SchemaValidator::SchemaValidator(json schema) : impl_(std::make_unique<Impl>()) {
  impl_->schema = std::move(schema);
  impl_->prepare(impl_->schema, "");
}

SchemaValidator::~SchemaValidator() = default;
SchemaValidator::SchemaValidator(SchemaValidator&&) noexcept = default;
SchemaValidator& SchemaValidator::operator=(SchemaValidator&&) noexcept = default;

std::vector<ValidationError> SchemaValidator::validate(const json& instance) const {
  std::vector<ValidationError> errors;
  impl_->check(impl_->schema, instance, "", errors);
  return errors;
}

}  // namespace consulecs::config
