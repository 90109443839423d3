#include "util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace consulecs::files {
namespace {

std::runtime_error errno_error(const std::string& action, const std::string& path) {
  return std::runtime_error(action + " " + path + ": " + std::strerror(errno));
}

}  // namespace

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

void write_atomic(const std::string& path, std::string_view content, mode_t mode) {
  std::string temp = path + ".tmp.XXXXXX";
  std::vector<char> templ(temp.begin(), temp.end());
  templ.push_back('\0');
  const int fd = ::mkstemp(templ.data());
  if (fd < 0) throw errno_error("cannot create temporary file for", path);
  temp = templ.data();
  auto fail = [&](const char* action) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    errno = saved;
    return errno_error(action, path);
  };
  // mkstemp creates 0600; set the final mode before any content lands so a
  // secret is never readable by others, even briefly.
  if (::fchmod(fd, mode) != 0) throw fail("cannot chmod");
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail("cannot write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) throw fail("cannot fsync");
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    throw errno_error("cannot close", path);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    errno = saved;
    throw errno_error("cannot rename temporary file onto", path);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw errno_error("cannot read", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void copy_atomic(const std::string& source, const std::string& destination, mode_t mode) {
  write_atomic(destination, read_file(source), mode);
}

std::string self_executable() {
  std::vector<char> buffer(4096);
  const ssize_t n = ::readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (n < 0) throw errno_error("cannot resolve", "/proc/self/exe");
  return std::string(buffer.data(), static_cast<size_t>(n));
}

}  // namespace consulecs::files
