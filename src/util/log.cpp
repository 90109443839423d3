#include "util/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace consulecs::log {
namespace {
std::atomic<Level> g_level{Level::Info};
std::mutex g_write_mutex;
std::string g_name;  // set once at start-up, before any thread logs

std::string_view label(Level level) {
  switch (level) {
    case Level::Trace: return "[TRACE]";
    case Level::Debug: return "[DEBUG]";
    case Level::Info: return "[INFO] ";
    case Level::Warn: return "[WARN] ";
    case Level::Error: return "[ERROR]";
    case Level::Off: break;
  }
  return "[INFO] ";
}
}  // namespace

Level parse_level(std::string_view name) {
  const auto first = name.find_first_not_of(" \t\r\n");
  name = first == std::string_view::npos ? std::string_view() : name.substr(first);
  name = name.substr(0, name.find_last_not_of(" \t\r\n") + 1);
  std::string upper;
  for (char c : name) upper.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
  if (upper == "TRACE") return Level::Trace;
  if (upper == "DEBUG") return Level::Debug;
  if (upper == "WARN") return Level::Warn;
  if (upper == "ERROR") return Level::Error;
  if (upper == "OFF") return Level::Off;
  return Level::Info;
}

void set_level(Level level) { g_level.store(level); }
void set_name(std::string name) { g_name = std::move(name); }
Level level() { return g_level.load(); }
bool enabled(Level lvl) { return lvl >= g_level.load(); }

namespace {
// hclog's isNormal: '-' through '~'; anything else makes a value quoted.
bool needs_quoting(std::string_view value) {
  for (unsigned char c : value) {
    if (c < 0x2D || c > 0x7E) return true;
  }
  return false;
}

// hclog's writeEscapedForOutput: control characters escaped Go-style,
// quotes too inside a quoted value; other bytes (UTF-8 included) kept.
void append_escaped(std::string& out, std::string_view value, bool escape_quotes) {
  for (unsigned char c : value) {
    switch (c) {
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      case '"':
        if (escape_quotes) out += "\\\"";
        else out += '"';
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void write_line(Level lvl, const std::string& text) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  // One fwrite per line so concurrent threads never interleave within a line.
  std::string line = fmt::format("{}.{:03d}Z {} {}\n", stamp, static_cast<int>(millis), label(lvl), text);
  std::lock_guard lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}
}  // namespace

std::string format_line(std::string_view name, std::string_view message, Fields fields) {
  std::string out;
  if (!name.empty()) {
    out += name;
    if (!message.empty()) out += ": ";
  }
  out += message;
  if (fields.size() == 0) return out;
  out += ':';
  for (const Field& f : fields) {
    if (f.value.find('\n') != std::string::npos) {
      // hclog keeps a multi-line value's lines, each prefixed "  | ".
      out += "\n  ";
      out += f.key;
      out += "=\n";
      std::string_view rest = f.value;
      while (!rest.empty()) {
        const auto nl = rest.find('\n');
        out += "  | ";
        append_escaped(out, rest.substr(0, nl), false);
        out += '\n';
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
      }
      out += "  ";
    } else if (f.value.empty()) {
      out += fmt::format(" {}=\"\"", f.key);
    } else if (needs_quoting(f.value)) {
      out += ' ';
      out += f.key;
      out += "=\"";
      append_escaped(out, f.value, true);
      out += '"';
    } else {
      out += fmt::format(" {}={}", f.key, f.value);
    }
  }
  return out;
}

void write(Level lvl, std::string_view message) { write_line(lvl, format_line(g_name, message, {})); }

void write(Level lvl, std::string_view message, Fields fields) {
  write_line(lvl, format_line(g_name, message, fields));
}

}  // namespace consulecs::log
