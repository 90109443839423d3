#include "http/health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace consulecs::http {

std::string health_listen_address() {
  const char* env = std::getenv("CONSUL_ECS_HEALTH_LISTEN_ADDR");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:10000";
}

HealthServer::HealthServer(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("health listen address must be host:port: " + listen);
  const std::string host = listen.substr(0, colon);
  const int port = std::atoi(listen.substr(colon + 1).c_str());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    throw std::runtime_error("health listen address is not an IPv4 address: " + host);
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("health server socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0) {
    const std::string reason = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error("health server cannot listen on " + listen + ": " + reason);
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error(std::string("health server eventfd: ") + std::strerror(errno));
  thread_ = std::thread([this] { serve(); });
}

HealthServer::~HealthServer() {
  stop_.store(true);
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void HealthServer::serve() {
  while (!stop_.load()) {
    // Sleeps until a probe connects or the destructor wakes it: no timer.
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    // Read the request head (bounded, with a short timeout: probes are tiny).
    std::string request;
    char buffer[1024];
    pollfd cfd{fd, POLLIN, 0};
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192 && ::poll(&cfd, 1, 1000) > 0) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    const bool is_health = request.rfind("GET /consul-ecs/health ", 0) == 0 ||
                           request.rfind("GET /consul-ecs/health?", 0) == 0;
    std::string status;
    std::string body;
    if (!is_health) {
      status = "404 Not Found";
      body = "not found\n";
    } else if (ready_.load()) {
      status = "200 OK";
      body = "ok\n";
    } else {
      status = "500 Internal Server Error";
      body = "not ready\n";
    }
    const std::string response = "HTTP/1.1 " + status +
                                 "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                                 "\r\nConnection: close\r\n\r\n" + body;
    ::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
    ::close(fd);
  }
}

}  // namespace consulecs::http
