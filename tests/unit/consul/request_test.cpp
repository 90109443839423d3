#include "consul/request.h"

#include <gtest/gtest.h>

#include "consul/endpoints.h"
#include "consul/errors.h"

using namespace consulecs;
using nlohmann::json;

TEST(ConsulQuery, StartsOrExtendsTheQueryAndSkipsEmptyValues) {
  EXPECT_EQ(consul::with_query("/v1/acl/login", {{"dc", ""}}), "/v1/acl/login");
  EXPECT_EQ(consul::with_query("/v1/acl/login", {{"dc", "dc 2"}, {"partition", "a&b"}}),
            "/v1/acl/login?dc=dc%202&partition=a%26b");
  EXPECT_EQ(consul::with_query("/v1/x?a=1", {{"b", "2 3"}, {"ns", "*"}}), "/v1/x?a=1&b=2%203&ns=%2A");
  EXPECT_EQ(consul::with_query("/v1/x?merge-central-config", {{"filter", "ID == \"a\""}}),
            "/v1/x?merge-central-config&filter=ID%20%3D%3D%20%22a%22");
}

TEST(ConsulQuery, PathSegmentKeepsArnsReadable) {
  EXPECT_EQ(consul::path_segment("arn:aws:ecs:us-east-1:1:cluster/x"), "arn:aws:ecs:us-east-1:1:cluster/x");
  EXPECT_EQ(consul::path_segment("a b?c#d"), "a%20b%3Fc%23d");
}

TEST(ConsulErrors, PredicatesAreReadFromTheAnswer) {
  const consul::ApiError gone(403, "POST", "/v1/acl/logout", "ACL not found\n");
  EXPECT_TRUE(gone.acl_not_found());
  EXPECT_TRUE(gone.not_found());
  EXPECT_FALSE(gone.unknown_service());
  EXPECT_STREQ(gone.what(), "POST /v1/acl/logout: HTTP 403: ACL not found");
  EXPECT_TRUE(consul::acl_not_found(gone));

  // "ACL not found" is only a lost token on a 403; a denied token is not one.
  EXPECT_FALSE(consul::ApiError(500, "PUT", "/v1/catalog/register", "ACL not found").acl_not_found());
  EXPECT_FALSE(consul::ApiError(403, "PUT", "/v1/catalog/register", "Permission denied").acl_not_found());

  const consul::ApiError unknown(500, "PUT", "/v1/catalog/register",
                                 "Unknown service ID \"web-1\" for check ID \"web-1-app\"");
  EXPECT_TRUE(unknown.unknown_service());
  EXPECT_TRUE(consul::unknown_service(unknown));
  EXPECT_FALSE(unknown.not_found());
  EXPECT_TRUE(consul::ApiError(500, "PUT", "/v1/catalog/deregister", "Unknown node").unknown_node());

  EXPECT_TRUE(consul::not_found(consul::ApiError(404, "GET", "/v1/acl/role/name/x", "")));
  // The path never counts, only what Consul said.
  EXPECT_FALSE(consul::ApiError(500, "GET", "/v1/Unknown service", "boom").unknown_service());
  // Not an ApiError at all.
  EXPECT_FALSE(consul::acl_not_found(std::runtime_error("403 ACL not found")));
  EXPECT_FALSE(consul::not_found(consul::UnavailableError("no Consul server reachable")));
}

TEST(ConsulEndpoints, LoginCarriesNoTokenAndTheLoginTimeout) {
  const auto request = consul::acl_login({"iam-ecs-service-token", "bearer", {{"k", "v"}}, "dc2", ""});
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/v1/acl/login?dc=dc2");
  ASSERT_TRUE(request.token.has_value());
  EXPECT_EQ(*request.token, "");
  EXPECT_EQ(request.timeout, consul::Request::Timeout::login);
  EXPECT_EQ((*request.body)["AuthMethod"], "iam-ecs-service-token");
  EXPECT_EQ((*request.body)["Meta"]["k"], "v");
  EXPECT_EQ(consul::parse_login_answer({{"AccessorID", "a"}, {"SecretID", "s"}}).secret_id, "s");
  EXPECT_THROW(consul::parse_login_answer(json::object()), consul::ApiError);
  EXPECT_THROW(consul::parse_login_answer(json("text")), consul::ApiError);
}

TEST(ConsulEndpoints, DeregistrationNamesNamespaceAndPartitionOnlyWhenSet) {
  const auto plain = consul::catalog_deregister("node", "web-1");
  EXPECT_EQ(plain.method, "PUT");
  EXPECT_EQ(plain.path, "/v1/catalog/deregister");
  EXPECT_EQ(*plain.body, json({{"Node", "node"}, {"ServiceID", "web-1"}}));
  EXPECT_EQ((*consul::catalog_deregister("node", "web-1", "ns1", "p1").body)["Partition"], "p1");
}

TEST(ConsulEndpoints, ReadsOfOneTask) {
  const std::string node = "arn:aws:ecs:us-east-1:1:cluster/c";
  EXPECT_EQ(consul::node_checks_of(node, {"a", "b"}).path,
            "/v1/health/node/" + node + "?filter=ServiceID%20%3D%3D%20%22a%22%20or%20ServiceID%20%3D%3D%20%22b%22");
  EXPECT_EQ(consul::node_service_merged(node, "a-sidecar-proxy", "", "p1").path,
            "/v1/catalog/node-services/" + node +
                "?merge-central-config&filter=ID%20%3D%3D%20%22a-sidecar-proxy%22&partition=p1");
  EXPECT_EQ(consul::config_entry("service-defaults", "web", "team").path, "/v1/config/service-defaults/web?ns=team");
  EXPECT_EQ(consul::put_config_entry_cas(json::object(), 42).path, "/v1/config?cas=42");
}
