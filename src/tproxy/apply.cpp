#include "tproxy/apply.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace consulecs::tproxy {
namespace {

constexpr int kCapNetAdmin = 12;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

bool lacks_permission(const std::string& text) {
  for (const char* marker : {"Permission denied", "you must be root", "Operation not permitted"}) {
    if (text.find(marker) != std::string::npos) return true;
  }
  return false;
}

std::string describe_failure(const std::string& program, const RunResult& r) {
  if (!r.started) {
    return fmt::format("cannot run {}: {} (the transparent proxy needs iptables in the image that runs mesh-init)",
                       program, r.errors);
  }
  const std::string detail = trim(r.errors.empty() ? r.output : r.errors);
  if (lacks_permission(detail)) return fmt::format("{}: {}", missing_net_admin_message(), detail);
  return fmt::format("{} failed with exit code {}: {}", program, r.exit_code, detail);
}

}  // namespace

RunResult run_process(const std::vector<std::string>& argv, const std::string& input) {
  RunResult result;
  if (argv.empty()) {
    result.errors = "no program";
    return result;
  }
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, status_pipe[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(status_pipe, O_CLOEXEC) != 0) {
    result.errors = fmt::format("pipe: {}", std::strerror(errno));
    for (int* p : {in, out, err, status_pipe}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
    return result;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    const int e = errno;
    (void)!::write(status_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  close_fd(status_pipe[1]);
  if (pid < 0) {
    result.errors = fmt::format("fork: {}", std::strerror(errno));
    for (int* fd : {&in[1], &out[0], &err[0], &status_pipe[0]}) close_fd(*fd);
    return result;
  }

  // A child that exits before reading all its input must not kill us with
  // SIGPIPE: block it in this thread while writing, drop it afterwards.
  sigset_t pipe_set, old_mask;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);

  // Feed stdin and drain both outputs together, so neither side blocks.
  std::size_t written = 0;
  if (input.empty()) close_fd(in[1]);
  char buf[4096];
  while (out[0] >= 0 || err[0] >= 0 || in[1] >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in[1] >= 0) fds[n++] = {in[1], POLLOUT, 0};
    if (out[0] >= 0) fds[n++] = {out[0], POLLIN, 0};
    if (err[0] >= 0) fds[n++] = {err[0], POLLIN, 0};
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in[1]) {
        const ssize_t w = ::write(in[1], input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EINTR && errno != EAGAIN) close_fd(in[1]);
        if (written == input.size()) close_fd(in[1]);
      } else {
        const ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
        if (r > 0) {
          (fds[i].fd == out[0] ? result.output : result.errors).append(buf, static_cast<std::size_t>(r));
        } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
          close_fd(fds[i].fd == out[0] ? out[0] : err[0]);
        }
      }
    }
  }
  for (int* fd : {&in[1], &out[0], &err[0]}) close_fd(*fd);
  sigset_t pending;
  if (::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1 && sigismember(&old_mask, SIGPIPE) == 0) {
    const timespec zero{0, 0};
    ::sigtimedwait(&pipe_set, nullptr, &zero);
  }
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  int exec_errno = 0;
  const bool exec_failed = ::read(status_pipe[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno;
  close_fd(status_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (exec_failed) {
    result.errors = fmt::format("{}: {}", argv[0], std::strerror(exec_errno));
    return result;
  }
  result.started = true;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool has_net_admin() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    std::istringstream hex(line.substr(7));
    unsigned long long caps = 0;
    hex >> std::hex >> caps;
    return (caps >> kCapNetAdmin) & 1U;
  }
  return false;
}

std::string missing_net_admin_message() {
  return "transparent proxy: changing iptables rules needs the NET_ADMIN capability, which this container "
         "does not have (Fargate never grants it: set transparentProxy.enabled to false there; on EC2 add "
         "NET_ADMIN to the mesh-init container's linuxParameters.capabilities and run it as user 0)";
}

std::string apply_rules(const std::vector<Rule>& rules, const Runner& runner, const ApplyOptions& options) {
  if (options.check_capability && !has_net_admin()) throw ApplyError(missing_net_admin_message());

  const RunResult saved = runner({options.iptables_save, "-t", "nat"}, "");
  if (!saved.started || saved.exit_code != 0) throw ApplyError(describe_failure(options.iptables_save, saved));

  const std::string input = render_restore(rules, saved.output);
  const RunResult restored = runner({options.iptables_restore, "--noflush"}, input);
  if (!restored.started || restored.exit_code != 0) {
    throw ApplyError(describe_failure(options.iptables_restore, restored));
  }
  return input;
}

}  // namespace consulecs::tproxy
