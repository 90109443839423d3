#pragma once
// The readiness endpoint `GET /consul-ecs/health`: 500 until the command
// marks itself ready, then 200. ECS container health checks and the
// Terraform modules probe 127.0.0.1:10000.
#include <atomic>
#include <string>
#include <thread>

namespace consulecs::http {

class HealthServer {
 public:
  // `listen` is "host:port". Throws std::runtime_error when it cannot bind.
  explicit HealthServer(const std::string& listen);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  void set_ready(bool ready) { ready_.store(ready); }
  bool ready() const { return ready_.load(); }
  int port() const { return port_; }

 private:
  void serve();

  int listen_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The address to listen on: $CONSUL_ECS_HEALTH_LISTEN_ADDR (test-only
// override, so several tasks can share one host) or 127.0.0.1:10000.
std::string health_listen_address();

}  // namespace consulecs::http
