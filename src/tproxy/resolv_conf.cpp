#include "tproxy/resolv_conf.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "tproxy/rules.h"
#include "util/files.h"

namespace consulecs::tproxy {
namespace {

// The nameserver a resolv.conf line names, "" when it is not a nameserver line.
std::string nameserver_of(std::string_view line) {
  std::istringstream words{std::string(line)};
  std::string keyword, value;
  words >> keyword >> value;
  return keyword == "nameserver" ? value : "";
}

std::runtime_error errno_error(const std::string& what, const std::string& path) {
  return std::runtime_error(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

void write_in_place(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) throw errno_error("cannot open", path);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      throw errno_error("cannot write", path);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 && errno != EINVAL) {
    ::close(fd);
    throw errno_error("cannot fsync", path);
  }
  ::close(fd);
}

}  // namespace

std::string rewrite_resolv_conf(std::string_view current) {
  const std::string ours = fmt::format("nameserver {}", kConsulDnsIp);
  std::vector<std::string> lines;
  std::istringstream in{std::string(current)};
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  std::string out;
  bool placed = false;
  for (const auto& line : lines) {
    const std::string ns = nameserver_of(line);
    if (ns == kConsulDnsIp) {
      if (!placed) out += ours + "\n";
      placed = true;
      continue;
    }
    if (!ns.empty() && !placed) {
      out += ours + "\n";
      placed = true;
    }
    out += line + "\n";
  }
  if (!placed) out += ours + "\n";
  return out;
}

std::string configure_consul_dns(const std::string& path) {
  std::string current;
  if (std::ifstream in(path, std::ios::binary); in) {
    std::ostringstream text;
    text << in.rdbuf();
    current = text.str();
  } else if (errno != ENOENT) {
    throw errno_error("cannot read", path);
  }
  const std::string updated = rewrite_resolv_conf(current);
  if (updated == current) return updated;
  try {
    files::write_atomic(path, updated, 0644);
  } catch (const std::runtime_error& atomic) {
    // Renaming onto a bind mount fails with EBUSY (and a read-only /etc with
    // a writable bind-mounted file cannot hold the temporary file): write
    // through the mount instead.
    try {
      write_in_place(path, updated);
    } catch (const std::runtime_error& in_place) {
      throw std::runtime_error(fmt::format("{}; then {}", atomic.what(), in_place.what()));
    }
  }
  return updated;
}

}  // namespace consulecs::tproxy
