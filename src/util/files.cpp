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

template <typename Writer>
void write_atomic_with(const std::string& path, mode_t mode, Writer&& write_content) {
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
  if (!write_content(fd)) throw fail("cannot write");
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

void write_atomic(const std::string& path, std::string_view content, mode_t mode) {
  write_atomic_with(path, mode, [&](int fd) {
    size_t written = 0;
    while (written < content.size()) {
      const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      written += static_cast<size_t>(n);
    }
    return true;
  });
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw errno_error("cannot read", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void copy_atomic(const std::string& source, const std::string& destination, mode_t mode) {
  // Streams in the kernel (copy_file_range): the binary copied at start-up
  // is tens of MiB unstripped, and reading it into memory would dominate
  // both start-up time and peak RSS.
  const int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw errno_error("cannot open", source);
  struct stat st {};
  if (::fstat(in, &st) != 0) {
    ::close(in);
    throw errno_error("cannot stat", source);
  }
  try {
    write_atomic_with(destination, mode, [&](int out) {
      off_t remaining = st.st_size;
      while (remaining > 0) {
        const ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(remaining), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) break;
        if (n <= 0) return false;
        remaining -= n;
      }
      // Filesystems without copy_file_range: a bounded buffer loop.
      char buffer[64 * 1024];
      while (remaining > 0) {
        const ssize_t n = ::read(in, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        for (ssize_t done = 0; done < n;) {
          const ssize_t w = ::write(out, buffer + done, static_cast<size_t>(n - done));
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) return false;
          done += w;
        }
        remaining -= n;
      }
      return true;
    });
  } catch (...) {
    ::close(in);
    throw;
  }
  ::close(in);
}

std::string self_executable() {
  std::vector<char> buffer(4096);
  const ssize_t n = ::readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (n < 0) throw errno_error("cannot resolve", "/proc/self/exe");
  return std::string(buffer.data(), static_cast<size_t>(n));
}

}  // namespace consulecs::files
