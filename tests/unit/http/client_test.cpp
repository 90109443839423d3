#include "http/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "consul/client.h"
#include "support/tiny_http_server.h"

namespace consulecs::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using consulecs::testing::http_response;
using consulecs::testing::SilentHttpServer;
using consulecs::testing::TinyHttpServer;
using ::testing::HasSubstr;

Request get(int port, std::chrono::milliseconds timeout) {
  Request request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/status/leader";
  request.timeout = timeout;
  return request;
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Waits until the silent server has accepted `n` connections.
void wait_for_connections(const SilentHttpServer& server, int n) {
  const auto deadline = Clock::now() + 5s;
  while (server.connections() < n && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_GE(server.connections(), n);
}

TEST(HttpClient, SilentServerTimesOutAfterTheRequestTimeout) {
  SilentHttpServer server;
  Client client;
  const auto start = Clock::now();
  try {
    (void)client.send(get(server.port(), 300ms));
    FAIL() << "no error";
  } catch (const CancelledError&) {
    FAIL() << "a timeout is not a cancellation";
  } catch (const TransportError& e) {
    EXPECT_THAT(e.what(), HasSubstr("timed out"));
  }
  const auto elapsed = ms_since(start);
  EXPECT_GE(elapsed, 290);
  EXPECT_LT(elapsed, 1500);
}

TEST(HttpClient, StillAnswersNormally) {
  TinyHttpServer server(http_response(200, R"({"ok":true})"));
  Client client;
  const Response response = client.send(get(server.port(), 2s));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"ok":true})");
  EXPECT_EQ(response.header("content-type"), "application/json");
}

TEST(HttpClient, CancelInterruptsRequestsInFlightAtOnce) {
  SilentHttpServer server;
  const auto generation = cancel_generation();
  // Two clients on two threads, both waiting on a server that never answers.
  auto hung = [&] {
    Client client;
    const auto start = Clock::now();
    try {
      (void)client.send(get(server.port(), 20s));
      return std::string("answered");
    } catch (const CancelledError& e) {
      return std::string("cancelled after ") + std::to_string(ms_since(start)) + " ms: " + e.what();
    } catch (const TransportError& e) {
      return std::string("transport error: ") + e.what();
    }
  };
  auto first = std::async(std::launch::async, hung);
  auto second = std::async(std::launch::async, hung);
  wait_for_connections(server, 2);
  std::this_thread::sleep_for(50ms);  // both are in curl_multi_poll now
  const auto cancelled_at = Clock::now();
  cancel_in_flight();
  EXPECT_EQ(cancel_generation(), generation + 1);
  ASSERT_EQ(first.wait_for(2s), std::future_status::ready);
  ASSERT_EQ(second.wait_for(2s), std::future_status::ready);
  EXPECT_LT(ms_since(cancelled_at), 500) << "cancellation must not wait for curl's 1 s idle tick";
  EXPECT_THAT(first.get(), HasSubstr("cancelled (shutting down)"));
  EXPECT_THAT(second.get(), HasSubstr("cancelled (shutting down)"));
}

TEST(HttpClient, RequestsStartedAfterTheCancelAreNotCancelled) {
  cancel_in_flight();
  TinyHttpServer server(http_response(200, "{}"));
  Client client;
  EXPECT_EQ(client.send(get(server.port(), 2s)).status, 200);
  // ... and one that hangs runs into its own timeout, not a cancellation.
  SilentHttpServer silent;
  EXPECT_THROW(
      {
        try {
          (void)client.send(get(silent.port(), 200ms));
        } catch (const CancelledError&) {
          ADD_FAILURE() << "cancelled although started after cancel_in_flight()";
          throw;
        }
      },
      TransportError);
}

TEST(HttpClient, ReusedClientAfterACancelWorks) {
  SilentHttpServer silent;
  TinyHttpServer server(http_response(200, "{}"));
  Client client;
  auto hung = std::async(std::launch::async, [&] {
    try {
      (void)client.send(get(silent.port(), 20s));
    } catch (const CancelledError&) {
      return true;
    } catch (const TransportError&) {
    }
    return false;
  });
  wait_for_connections(silent, 1);
  cancel_in_flight();
  ASSERT_TRUE(hung.get());
  EXPECT_EQ(client.send(get(server.port(), 2s)).status, 200);
}

TEST(HttpClient, ItsStopFlagCancelsARequestInFlightAtOnce) {
  SilentHttpServer server;
  signals::StopFlag stop;
  Client client;
  auto hung = std::async(std::launch::async, [&] {
    Request request = get(server.port(), 20s);
    request.cancel = &stop;
    try {
      (void)client.send(request);
      return std::string("answered");
    } catch (const CancelledError& e) {
      return std::string(e.what());
    } catch (const TransportError& e) {
      return std::string("transport error: ") + e.what();
    }
  });
  wait_for_connections(server, 1);
  std::this_thread::sleep_for(50ms);  // in curl_multi_poll now
  const auto stopped_at = Clock::now();
  stop.request();
  ASSERT_EQ(hung.wait_for(2s), std::future_status::ready);
  EXPECT_LT(ms_since(stopped_at), 500) << "cancellation must not wait for curl's 1 s idle tick";
  EXPECT_THAT(hung.get(), HasSubstr("cancelled (shutting down)"));
}

TEST(HttpClient, ARequestWhoseFlagIsSetFailsWithoutConnecting) {
  TinyHttpServer server(http_response(200, "{}"));
  signals::StopFlag stop;
  stop.request();
  Client client;
  Request request = get(server.port(), 2s);
  request.cancel = &stop;
  EXPECT_THROW((void)client.send(request), CancelledError);
  EXPECT_TRUE(server.requests().empty());
  // The same client without the flag still works: the flag belongs to the request.
  EXPECT_EQ(client.send(get(server.port(), 2s)).status, 200);
}

TEST(HttpClient, AStopFlagCancelsOnlyTheRequestsThatCarryIt) {
  SilentHttpServer silent;
  signals::StopFlag stop;
  auto carrying = std::async(std::launch::async, [&] {
    Client client;
    Request request = get(silent.port(), 20s);
    request.cancel = &stop;
    try {
      (void)client.send(request);
    } catch (const CancelledError&) {
      return true;
    } catch (const TransportError&) {
    }
    return false;
  });
  auto other = std::async(std::launch::async, [&] {
    Client client;
    try {
      (void)client.send(get(silent.port(), 1500ms));
    } catch (const CancelledError&) {
      return std::string("cancelled");
    } catch (const TransportError& e) {
      return std::string(e.what());
    }
    return std::string("answered");
  });
  wait_for_connections(silent, 2);
  stop.request();
  ASSERT_EQ(carrying.wait_for(2s), std::future_status::ready);
  EXPECT_TRUE(carrying.get());
  EXPECT_THAT(other.get(), HasSubstr("timed out"));
}

TEST(HttpClient, ConnectTimeoutIsCappedByTheRequestTimeout) {
  // Only checks that a connect timeout larger than the request timeout does
  // not extend it.
  SilentHttpServer server;
  Client client;
  Request request = get(server.port(), 200ms);
  request.connect_timeout = 5s;
  const auto start = Clock::now();
  EXPECT_THROW((void)client.send(request), TransportError);
  EXPECT_LT(ms_since(start), 1500);
}

// cancel_all() is sticky for the whole process: run it in a forked child.
TEST(HttpClientDeathTest, CancelAllAlsoFailsLaterRequests) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        SilentHttpServer silent;
        TinyHttpServer server(http_response(200, "{}"));
        Client client;
        auto hung = std::async(std::launch::async, [&] {
          try {
            (void)client.send(get(silent.port(), 20s));
          } catch (const CancelledError&) {
            return true;
          } catch (const TransportError&) {
          }
          return false;
        });
        const auto deadline = Clock::now() + 5s;
        while (silent.connections() < 1 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
        cancel_all();
        bool later_cancelled = false;
        try {
          Client other;
          (void)other.send(get(server.port(), 2s));
        } catch (const CancelledError&) {
          later_cancelled = true;
        }
        const bool ok = hung.get() && later_cancelled && server.requests().empty();
        std::_Exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// Answers every request on a connection and keeps it open (HTTP/1.1
// keep-alive); counts connections.
class KeepAliveServer {
 public:
  KeepAliveServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 4) != 0) {
      throw std::runtime_error("cannot listen");
    }
    socklen_t length = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~KeepAliveServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void serve() {
    std::vector<std::pair<int, std::string>> clients;
    while (!stop_) {
      std::vector<pollfd> fds{{fd_, POLLIN, 0}};
      for (const auto& c : clients) fds.push_back({c.first, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        if (const int client = ::accept(fd_, nullptr, nullptr); client >= 0) {
          clients.emplace_back(client, std::string());
          ++connections_;
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
        char buffer[4096];
        const auto n = ::recv(fds[i].fd, buffer, sizeof(buffer), 0);
        auto& [fd, pending] = clients[i - 1];
        if (n <= 0) continue;
        pending.append(buffer, static_cast<std::size_t>(n));
        for (auto end = pending.find("\r\n\r\n"); end != std::string::npos; end = pending.find("\r\n\r\n")) {
          pending.erase(0, end + 4);
          const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
          (void)::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
        }
      }
    }
    for (const auto& c : clients) ::close(c.first);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

TEST(HttpClient, ReusesTheConnection) {
  KeepAliveServer server;
  Client client;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.send(get(server.port(), 2s)).body, "{}");
  EXPECT_EQ(server.connections(), 1);
}

consul::ServerConfig consul_config(int port) {
  consul::ServerConfig config;
  config.hosts = "127.0.0.1";
  config.port = port;
  return config;
}

TEST(ConsulTimeouts, Defaults) {
  const consul::ServerConfig config;
  EXPECT_EQ(config.connect_timeout, 1000ms);
  EXPECT_EQ(config.request_timeout, 1000ms);
  EXPECT_EQ(config.login_timeout, 10000ms);
}

TEST(ConsulTimeouts, ASilentConsulCostsOneRequestTimeout) {
  SilentHttpServer server;
  consul::Client client(consul_config(server.port()));
  const auto start = Clock::now();
  EXPECT_THROW(client.catalog_register(nlohmann::json::object()), consul::UnavailableError);
  const auto elapsed = ms_since(start);
  EXPECT_GE(elapsed, 990);
  EXPECT_LT(elapsed, 1900) << "no second round against the same address";
  EXPECT_EQ(server.connections(), 1);
}

TEST(ConsulTimeouts, CancelStopsWithoutFailingOver) {
  SilentHttpServer server;
  consul::ServerConfig config = consul_config(server.port());
  config.request_timeout = 20s;
  consul::Client client(config);
  auto call = std::async(std::launch::async, [&] {
    try {
      client.call("GET", "/v1/agent/self");
    } catch (const consul::UnavailableError& e) {
      return std::string(e.what());
    }
    return std::string("answered");
  });
  wait_for_connections(server, 1);
  cancel_in_flight();
  ASSERT_EQ(call.wait_for(2s), std::future_status::ready);
  EXPECT_THAT(call.get(), HasSubstr("cancelled"));
  EXPECT_EQ(server.connections(), 1);
}

TEST(ConsulTimeouts, TheRequestsStopFlagStopsItWithoutFailingOver) {
  SilentHttpServer server;
  consul::ServerConfig config = consul_config(server.port());
  config.hosts = "exec=echo 127.0.0.1 127.0.0.1";
  config.request_timeout = 20s;
  consul::Client client(config);
  signals::StopFlag stop;
  auto call = std::async(std::launch::async, [&] {
    consul::Request request;
    request.path = "/v1/agent/self";
    request.cancel = &stop;
    try {
      client.send(request);
    } catch (const consul::CancelledError& e) {
      return std::string(e.what());
    } catch (const consul::UnavailableError& e) {
      return std::string("unavailable, not cancelled: ") + e.what();
    }
    return std::string("answered");
  });
  wait_for_connections(server, 1);
  stop.request();
  ASSERT_EQ(call.wait_for(2s), std::future_status::ready);
  EXPECT_THAT(call.get(), HasSubstr("cancelled"));
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace consulecs::http
