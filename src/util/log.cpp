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
Level level() { return g_level.load(); }
bool enabled(Level lvl) { return lvl >= g_level.load(); }

void write(Level lvl, std::string_view message) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  // One fwrite per line so concurrent threads never interleave within a line.
  std::string line = fmt::format("{}.{:03d}Z {} {}\n", stamp, static_cast<int>(millis), label(lvl), message);
  std::lock_guard lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace consulecs::log
