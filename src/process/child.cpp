#include "process/child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "util/log.h"

namespace consulecs::process {

const std::vector<int>& relayed_signals() {
  static const std::vector<int> signals = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  return signals;
}

namespace {
// "SIGHUP", as the signal is named in the shell and in kill -l.
std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

sigset_t relayed_set(bool with_sigchld) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : relayed_signals()) sigaddset(&set, sig);
  if (with_sigchld) sigaddset(&set, SIGCHLD);
  return set;
}
}  // namespace

Child::Child(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::runtime_error("no command to run");
  // Block before fork so no signal is lost between fork and the supervise loop.
  sigset_t set = relayed_set(true);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &set, &previous);
  std::vector<char*> cargv;
  for (const auto& arg : argv) cargv.push_back(const_cast<char*>(arg.c_str()));
  cargv.push_back(nullptr);
  // A close-on-exec pipe tells the parent whether exec succeeded: it sees EOF
  // on success, the child's errno on failure.
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(err));
  }
  pid_ = ::fork();
  if (pid_ < 0) {
    const int err = errno;
    ::close(exec_pipe[0]);
    ::close(exec_pipe[1]);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid_ == 0) {
    ::close(exec_pipe[0]);
    ::setpgid(0, 0);
    sigset_t empty;
    sigemptyset(&empty);
    pthread_sigmask(SIG_SETMASK, &empty, nullptr);
    ::execvp(cargv[0], cargv.data());
    const int err = errno;
    [[maybe_unused]] const ssize_t n = ::write(exec_pipe[1], &err, sizeof err);
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);
  ::close(exec_pipe[1]);
  int exec_errno = 0;
  ssize_t n = 0;
  do {
    n = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw std::runtime_error("cannot run " + argv.front() + ": " + std::strerror(exec_errno));
  }
}

int Child::signal(int sig) const {
  if (pid_ <= 0) return ESRCH;
  return ::kill(pid_, sig) == 0 ? 0 : errno;
}

int Child::signal_group(int sig) const {
  // The child leads its own process group (setpgid at start).
  if (pid_ <= 0) return ESRCH;
  return ::kill(-pid_, sig) == 0 ? 0 : errno;
}

bool Child::poll_exit() {
  if (exit_code_ >= 0) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return false;
  if (WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    term_signal_ = WTERMSIG(status);
    exit_code_ = 128 + term_signal_;
  } else {
    return false;
  }
  return true;
}

int supervise(Child& child, const std::function<void()>& on_sigterm, const std::function<bool()>& tick,
              std::string_view terminate_failed) {
  sigset_t set = relayed_set(true);
  bool terminated = false;
  bool sigterm_seen = false;
  while (!child.poll_exit()) {
    timespec timeout{0, 100 * 1000 * 1000};
    const int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGTERM) {
      if (!sigterm_seen) {
        sigterm_seen = true;
        on_sigterm();
      }
    } else if (sig > 0 && sig != SIGCHLD) {
      if (const int err = child.signal(sig); err != 0) {
        log::warn("forwarding signal", {{"err", std::strerror(err)}});
      } else {
        log::debug("forwarded signal", {{"signal", signal_name(sig)}, {"pid", child.pid()}});
      }
    }
    if (!terminated && tick()) {
      // The whole group, as the reference: a shell's children go too.
      terminated = true;
      if (const int err = child.signal_group(SIGTERM); err != 0) {
        log::warn(terminate_failed, {{"error", std::strerror(err)}});
      }
    }
  }
  return child.exit_code();
}

std::chrono::milliseconds parse_duration(const std::string& text) {
  if (text == "0") return std::chrono::milliseconds(0);
  double total_ms = 0;
  size_t i = 0;
  if (text.empty()) throw std::invalid_argument("invalid duration \"\"");
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) throw std::invalid_argument("invalid duration \"" + text + "\"");
    const double value = std::stod(text.substr(start, i - start));
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string unit = text.substr(unit_start, i - unit_start);
    double factor = 0;
    if (unit == "ns") factor = 1e-6;
    else if (unit == "us" || unit == "µs") factor = 1e-3;
    else if (unit == "ms") factor = 1;
    else if (unit == "s") factor = 1000;
    else if (unit == "m") factor = 60000;
    else if (unit == "h") factor = 3600000;
    else throw std::invalid_argument("invalid duration \"" + text + "\": unknown unit \"" + unit + "\"");
    total_ms += value * factor;
  }
  return std::chrono::milliseconds(static_cast<long long>(std::llround(total_ms)));
}

std::string format_duration(std::chrono::milliseconds duration) {
  long long ms = duration.count();
  if (ms == 0) return "0s";
  std::string sign = ms < 0 ? "-" : "";
  if (ms < 0) ms = -ms;
  if (ms < 1000) return fmt::format("{}{}ms", sign, ms);
  const long long hours = ms / 3'600'000;
  const long long minutes = ms / 60'000 % 60;
  const long long seconds = ms / 1000 % 60;
  std::string fraction = fmt::format("{:03d}", static_cast<int>(ms % 1000));
  fraction.erase(fraction.find_last_not_of('0') + 1);
  std::string out = sign;
  if (hours > 0) out += fmt::format("{}h", hours);
  if (hours > 0 || minutes > 0) out += fmt::format("{}m", minutes);
  out += std::to_string(seconds);
  if (!fraction.empty()) out += "." + fraction;
  return out + "s";
}

}  // namespace consulecs::process
