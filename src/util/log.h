#pragma once
// Process-wide logger: one line per event on stderr, in the shape CloudWatch
// shows well: `2024-01-02T03:04:05.678Z [INFO]  message key=value`.
// Never pass secrets (tokens, AWS keys) to these functions.
#include <fmt/format.h>

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
void write(Level level, std::string_view message);

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

}  // namespace consulecs::log
