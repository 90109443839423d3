#pragma once
// Process-wide logger: one line per event on stderr, in go-hclog's plain
// format, so CloudWatch metric filters written for the reference keep
// matching after a switch:
//   2024-01-02T03:04:05.678Z [INFO]  <name>: <message>: key=value key="quoted value"
// `<name>: ` appears only when set_name() gave one (the reference names the
// entrypoints' logger "consul-ecs" and leaves the others unnamed).
//
// Two call forms:
//   log::info("registered {} checks", n);                          fmt-formatted text
//   log::info("service registered successfully", {{"id", id}});    hclog message + fields
// Field values are quoted as hclog quotes them (any byte outside '-'..'~').
// Never pass secrets (tokens, AWS keys) to these functions, as text or field.
#include <fmt/format.h>

#include <concepts>
#include <initializer_list>
#include <string>
#include <string_view>

namespace consulecs::log {

// Off silences everything (the -log-level value "off", as go-hclog's); it is
// never a message's level.
enum class Level { Trace = 0, Debug, Info, Warn, Error, Off };

// Parses TRACE/DEBUG/INFO/WARN/ERROR/OFF (case-insensitive, surrounding
// blanks ignored, as go-hclog's LevelFromString); unknown -> Info.
Level parse_level(std::string_view name);
void set_level(Level level);
Level level();
bool enabled(Level level);

// The logger's name, printed before every message ("" = none).
void set_name(std::string name);

// One key=value pair of an hclog line. Strings are taken as they are;
// integers and booleans print as Go's %v does.
struct Field {
  std::string_view key;
  std::string value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
  Field(std::string_view k, T v) : key(k), value(fmt::format("{}", v)) {}
};
using Fields = std::initializer_list<Field>;

// The line's text after the level ("<name>: <message>: k=v ..."), without
// the timestamp, level or newline. Exposed for the unit tests.
std::string format_line(std::string_view name, std::string_view message, Fields fields);

void write(Level level, std::string_view message);
void write(Level level, std::string_view message, Fields fields);

template <typename... Args>
void trace(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Trace)) write(Level::Trace, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Debug)) write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Info)) write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Warn)) write(Level::Warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::Error)) write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}

inline void trace(std::string_view message, Fields fields) {
  if (enabled(Level::Trace)) write(Level::Trace, message, fields);
}
inline void debug(std::string_view message, Fields fields) {
  if (enabled(Level::Debug)) write(Level::Debug, message, fields);
}
inline void info(std::string_view message, Fields fields) {
  if (enabled(Level::Info)) write(Level::Info, message, fields);
}
inline void warn(std::string_view message, Fields fields) {
  if (enabled(Level::Warn)) write(Level::Warn, message, fields);
}
inline void error(std::string_view message, Fields fields) {
  if (enabled(Level::Error)) write(Level::Error, message, fields);
}

}  // namespace consulecs::log
