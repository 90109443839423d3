#include "consul/client.h"

#include <gtest/gtest.h>

#include "support/tiny_http_server.h"

using namespace consulecs;
using consulecs::testing::http_response;
using consulecs::testing::TinyHttpServer;

namespace {
consul::ServerConfig config_for(const std::string& hosts, int port) {
  consul::ServerConfig config;
  config.hosts = hosts;
  config.port = port;
  return config;
}
}  // namespace

TEST(ConsulClient, FailsOverToTheNextAddress) {
  TinyHttpServer server(http_response(200, R"({"ok":true})"));
  // 127.0.0.2 is loopback too, but nothing listens there on this port.
  consul::Client client(config_for("exec=echo 127.0.0.2 127.0.0.1", server.port()));
  client.set_token("secret-token");
  auto result = client.call("GET", "/v1/status/leader");
  EXPECT_EQ(result["ok"], true);
  EXPECT_EQ(client.current_address(), "127.0.0.1") << "the working address is kept for later calls";
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_NE(requests[0].find("X-Consul-Token: secret-token\r\n"), std::string::npos);
}

TEST(ConsulClient, NoServerReachableIsUnavailable) {
  int dead_port = 0;
  { TinyHttpServer probe(""); dead_port = probe.port(); }
  consul::Client client(config_for("127.0.0.1", dead_port));
  EXPECT_THROW(client.call("GET", "/v1/status/leader"), consul::UnavailableError);
}

TEST(ConsulClient, ErrorStatusCarriesStatusAndBody) {
  TinyHttpServer server(http_response(403, "Permission denied: token lacks node:write"));
  consul::Client client(config_for("127.0.0.1", server.port()));
  try {
    client.catalog_register(nlohmann::json::object());
    FAIL() << "expected ApiError";
  } catch (const consul::ApiError& e) {
    EXPECT_EQ(e.status(), 403);
    EXPECT_NE(std::string(e.what()).find("node:write"), std::string::npos);
  }
}

TEST(ConsulClient, LoginSendsMethodMetaAndNoToken) {
  TinyHttpServer server(http_response(200, R"({"AccessorID":"acc","SecretID":"sec"})"));
  consul::Client client(config_for("127.0.0.1", server.port()));
  client.set_token("must-not-be-sent");
  consul::LoginRequest request{"iam-ecs-service-token", "bearer", {{"consul.hashicorp.com/task-id", "t1"}}, "dc2", ""};
  const auto token = client.login(request);
  EXPECT_EQ(token.accessor_id, "acc");
  EXPECT_EQ(token.secret_id, "sec");
  const auto req = server.requests().at(0);
  EXPECT_TRUE(req.starts_with("POST /v1/acl/login?dc=dc2 HTTP/1.1")) << req;
  EXPECT_EQ(req.find("X-Consul-Token"), std::string::npos);
}

TEST(ConsulClient, ARequestsOwnTokenWinsOverTheClients) {
  TinyHttpServer server(http_response(200, "{}"));
  consul::Client client(config_for("127.0.0.1", server.port()));
  client.set_token("client-token");
  consul::Request request = consul::acl_token_self();
  request.token = "request-token";
  client.send(request);
  client.send(consul::acl_token_self());  // no token of its own: the client's
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].find("X-Consul-Token: request-token\r\n"), std::string::npos) << requests[0];
  EXPECT_EQ(requests[0].find("client-token"), std::string::npos);
  EXPECT_NE(requests[1].find("X-Consul-Token: client-token\r\n"), std::string::npos) << requests[1];
}

TEST(ConsulClient, ErrorPredicatesComeFromTheAnswer) {
  TinyHttpServer server(http_response(403, "ACL not found"));
  consul::Client client(config_for("127.0.0.1", server.port()));
  try {
    client.logout();
    FAIL() << "expected ApiError";
  } catch (const consul::ApiError& e) {
    EXPECT_TRUE(e.acl_not_found());
    EXPECT_STREQ(e.what(), "POST /v1/acl/logout: HTTP 403: ACL not found");
  }
}
