#pragma once
// A loopback HTTP/1.1 server for unit tests that answers the n-th request
// with the n-th canned response (the last one repeats), one request per
// connection, and records each request in full (headers and body), so a
// test can script a conversation such as "read, conflict, read, success".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/tiny_http_server.h"  // http_response()

namespace consulecs::testing {

struct RecordedRequest {
  std::string request_line;  // "PUT /v1/config?cas=7 HTTP/1.1"
  std::string head;          // request line and headers
  std::string body;
};

class ScriptedHttpServer {
 public:
  explicit ScriptedHttpServer(std::vector<std::string> responses) : responses_(std::move(responses)) {
    if (responses_.empty()) throw std::invalid_argument("ScriptedHttpServer needs at least one response");
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 8) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    socklen_t length = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::vector<RecordedRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  static std::size_t content_length(const std::string& head) {
    // Header names are case-insensitive; libcurl writes "Content-Length".
    for (const char* name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
      const auto at = head.find(name);
      if (at != std::string::npos)
        return std::strtoul(head.c_str() + at + std::char_traits<char>::length(name), nullptr, 10);
    }
    return 0;
  }

  void serve() {
    // Bounded: stops when the test ends, serves at most 64 connections.
    for (std::size_t served = 0; !stop_ && served < 64;) {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0) continue;
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      std::string data;
      char buffer[4096];
      std::size_t head_end = std::string::npos;
      bool complete = false;
      while (!complete) {
        pollfd cfd{client, POLLIN, 0};
        if (::poll(&cfd, 1, 2000) <= 0) break;
        const auto n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        data.append(buffer, static_cast<std::size_t>(n));
        if (head_end == std::string::npos) head_end = data.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          complete = data.size() >= head_end + 4 + content_length(data.substr(0, head_end + 2));
        }
      }
      if (!complete) {  // e.g. a probe connection that sent nothing
        ::close(client);
        continue;
      }
      RecordedRequest request;
      request.head = data.substr(0, head_end);
      request.request_line = request.head.substr(0, request.head.find("\r\n"));
      request.body = data.substr(head_end + 4);
      const std::string& response = responses_[std::min(served, responses_.size() - 1)];
      ++served;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(request));
      }
      (void)::send(client, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  std::vector<std::string> responses_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<RecordedRequest> requests_;
};

}  // namespace consulecs::testing
