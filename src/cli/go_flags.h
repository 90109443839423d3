#pragma once
// Command-line flags with the semantics of Go's `flag` package, which is what
// the official Terraform modules write (`app-entrypoint -shutdown-delay 2s
// app -x`): `-name value`, `-name=value`, one or two dashes alike, boolean
// flags never take the next argument, parsing stops at the first non-flag
// argument (a lone `-` is one) or after `--`, and everything from there on is
// positional, `-flags` included. Hand-written because CLI11 cannot stop at the
// first positional argument nor treat `-name` and `--name` alike.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace consulecs::cli {

struct ParseResult {
  enum class Kind { Ok, Help, Error };
  Kind kind = Kind::Ok;
  std::string error;  // for Error: one line naming the flag, Go's wording
};

class FlagSet {
 public:
  // `usage_line` heads the usage text, e.g.
  // "Usage: consul-ecs app-entrypoint [options] <command> [args...]".
  explicit FlagSet(std::string usage_line);

  void add_string(const std::string& name, std::string* target, const std::string& help);
  void add_bool(const std::string& name, bool* target, const std::string& help);
  // A Go duration ("10s", "1m30s", "500ms"); an invalid value is a parse error.
  void add_duration(const std::string& name, std::chrono::milliseconds* target, const std::string& help);

  // Parses `args` (the arguments after the command name). Targets keep their
  // initial values as defaults. On Ok, positional() holds what follows the flags.
  ParseResult parse(const std::vector<std::string>& args);
  const std::vector<std::string>& positional() const { return positional_; }

  // The usage line, then one entry per flag sorted by name, as Go prints them.
  std::string usage() const;

 private:
  struct Flag {
    std::string name;
    std::string type;  // "string", "duration", "" for bool
    std::string help;
    std::string default_text;
    bool is_bool = false;
    // Returns an empty string on success, else the reason the value is bad.
    std::function<std::string(const std::string&)> set;
  };
  Flag* find(const std::string& name);
  void add(Flag flag);

  std::string usage_line_;
  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
};

// Go's strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False.
// Returns false when `text` is none of them.
bool parse_go_bool(const std::string& text, bool* value);

}  // namespace consulecs::cli
