#include "cli/go_flags.h"

#include <algorithm>
#include <stdexcept>

#include "process/child.h"

namespace consulecs::cli {
namespace {

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

// Go's time.Duration.String() for whole milliseconds: "0s", "500ms", "1m30s", "1.5s".
std::string format_duration(std::chrono::milliseconds value) {
  long long ms = value.count();
  if (ms == 0) return "0s";
  std::string sign;
  if (ms < 0) {
    sign = "-";
    ms = -ms;
  }
  if (ms < 1000) return sign + std::to_string(ms) + "ms";
  std::string out = sign;
  const long long hours = ms / 3600000;
  const long long minutes = ms / 60000 % 60;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += std::to_string(ms / 1000 % 60);
  if (const long long frac = ms % 1000; frac != 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, 3 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out + "s";
}

}  // namespace

bool parse_go_bool(const std::string& text, bool* value) {
  static const std::vector<std::string> truthy = {"1", "t", "T", "TRUE", "true", "True"};
  static const std::vector<std::string> falsy = {"0", "f", "F", "FALSE", "false", "False"};
  if (std::find(truthy.begin(), truthy.end(), text) != truthy.end()) {
    *value = true;
    return true;
  }
  if (std::find(falsy.begin(), falsy.end(), text) != falsy.end()) {
    *value = false;
    return true;
  }
  return false;
}

FlagSet::FlagSet(std::string usage_line) : usage_line_(std::move(usage_line)) {}

void FlagSet::add(Flag flag) {
  if (find(flag.name) != nullptr) throw std::logic_error("flag redefined: " + flag.name);
  flags_.push_back(std::move(flag));
}

void FlagSet::add_string(const std::string& name, std::string* target, const std::string& help) {
  add({name, "string", help, target->empty() ? "" : quoted(*target), false, [target](const std::string& v) {
         *target = v;
         return std::string();
       }});
}

void FlagSet::add_bool(const std::string& name, bool* target, const std::string& help) {
  add({name, "", help, *target ? "true" : "", true, [target](const std::string& v) {
         return parse_go_bool(v, target) ? std::string() : std::string("parse error");
       }});
}

void FlagSet::add_duration(const std::string& name, std::chrono::milliseconds* target, const std::string& help) {
  add({name, "duration", help, target->count() == 0 ? "" : format_duration(*target), false,
       [target](const std::string& v) {
         try {
           *target = process::parse_duration(v);
           return std::string();
         } catch (const std::exception&) {
           return std::string("parse error");
         }
       }});
}

FlagSet::Flag* FlagSet::find(const std::string& name) {
  for (auto& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

ParseResult FlagSet::parse(const std::vector<std::string>& args) {
  positional_.clear();
  size_t i = 0;
  while (i < args.size()) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') break;  // first non-flag argument ("-" is one)
    size_t dashes = 1;
    if (arg[1] == '-') {
      dashes = 2;
      if (arg.size() == 2) {  // "--" ends the flags and is consumed
        ++i;
        break;
      }
    }
    std::string name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      return {ParseResult::Kind::Error, "bad flag syntax: " + arg};
    }
    ++i;
    bool has_value = false;
    std::string value;
    if (const auto eq = name.find('=', 1); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    Flag* flag = find(name);
    if (flag == nullptr) {
      if (name == "h" || name == "help") return {ParseResult::Kind::Help, ""};
      return {ParseResult::Kind::Error, "flag provided but not defined: -" + name};
    }
    if (flag->is_bool) {
      if (!has_value) value = "true";
      if (const std::string reason = flag->set(value); !reason.empty()) {
        return {ParseResult::Kind::Error, "invalid boolean value " + quoted(value) + " for -" + name + ": " + reason};
      }
      continue;
    }
    if (!has_value) {
      if (i == args.size()) return {ParseResult::Kind::Error, "flag needs an argument: -" + name};
      value = args[i++];  // the next argument, whatever it looks like
    }
    if (const std::string reason = flag->set(value); !reason.empty()) {
      return {ParseResult::Kind::Error, "invalid value " + quoted(value) + " for flag -" + name + ": " + reason};
    }
  }
  positional_.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return {};
}

std::string FlagSet::usage() const {
  std::string out = usage_line_ + "\n";
  if (flags_.empty()) return out;
  out += "\nOptions:\n";
  std::vector<const Flag*> sorted;
  for (const auto& flag : flags_) sorted.push_back(&flag);
  std::sort(sorted.begin(), sorted.end(), [](const Flag* a, const Flag* b) { return a->name < b->name; });
  for (const Flag* flag : sorted) {
    out += "  -" + flag->name;
    if (!flag->type.empty()) out += " " + flag->type;
    out += "\n    \t" + flag->help;
    if (!flag->default_text.empty()) out += " (default " + flag->default_text + ")";
    out += "\n";
  }
  return out;
}

}  // namespace consulecs::cli
