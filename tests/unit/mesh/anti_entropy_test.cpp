#include "mesh/anti_entropy.h"

#include <gtest/gtest.h>

using namespace consulecs;
using nlohmann::json;

namespace {

mesh::SyncedCheck check(std::string id, std::string service_id, std::string container) {
  mesh::SyncedCheck c;
  c.check_id = std::move(id);
  c.service_id = std::move(service_id);
  c.container = std::move(container);
  return c;
}

mesh::TaskRegistrations regs() {
  mesh::TaskRegistrations r;
  r.node = "arn:aws:ecs:us-east-1:123456789012:cluster/c1";
  mesh::Registration svc;
  svc.service_id = "web-t1";
  svc.checks = {check("web-t1-app", "web-t1", "app"), check("web-t1-consul-dataplane", "web-t1", "consul-dataplane")};
  svc.body = {{"Node", r.node},
              {"Service", {{"ID", "web-t1"}}},
              {"Checks", json::array({{{"CheckID", "web-t1-app"}, {"Status", "critical"}, {"Output", "x"}},
                                      {{"CheckID", "web-t1-consul-dataplane"}, {"Status", "critical"}}})}};
  r.service = svc;
  r.proxy.service_id = "web-t1-sidecar-proxy";
  r.proxy.checks = {check("web-t1-sidecar-proxy-consul-dataplane", "web-t1-sidecar-proxy", "consul-dataplane")};
  return r;
}

}  // namespace

TEST(AntiEntropy, VerificationPathFiltersToThisTask) {
  const auto read = mesh::verification_read(regs());
  EXPECT_EQ(read.method, "GET");
  const auto& path = read.path;
  EXPECT_EQ(path.rfind("/v1/health/node/arn:aws:ecs:us-east-1:123456789012:cluster/c1?filter=", 0), 0u) << path;
  EXPECT_NE(path.find("ServiceID%20%3D%3D%20%22web-t1%22%20or%20ServiceID%20%3D%3D%20%22web-t1-sidecar-proxy%22"),
            std::string::npos)
      << path;
  EXPECT_EQ(path.find("&ns="), std::string::npos);
  auto with_ns = regs();
  with_ns.ns = "team";
  with_ns.partition = "p1";
  const auto ent = mesh::verification_read(with_ns).path;
  EXPECT_NE(ent.find("&ns=team&partition=p1"), std::string::npos) << ent;
}

TEST(AntiEntropy, IntactWhenEveryCheckIsHeld) {
  const auto r = regs();
  const json held = json::array({{{"CheckID", "web-t1-app"}, {"Status", "passing"}},
                                 {{"CheckID", "web-t1-consul-dataplane"}, {"Status", "passing"}},
                                 {{"CheckID", "web-t1-sidecar-proxy-consul-dataplane"}, {"Status", "passing"}}});
  const auto v = mesh::verify_checks(held, r.all_checks(),
                                     {{"web-t1-app", "passing"},
                                      {"web-t1-consul-dataplane", "passing"},
                                      {"web-t1-sidecar-proxy-consul-dataplane", ""}});
  EXPECT_TRUE(v.intact());
  EXPECT_TRUE(v.drifted.empty());
}

TEST(AntiEntropy, MissingAndDriftedChecksAreReported) {
  const auto r = regs();
  const json held = json::array({{{"CheckID", "web-t1-app"}, {"Status", "critical"}}, "junk", {{"Status", "x"}}});
  const auto v = mesh::verify_checks(held, r.all_checks(),
                                     {{"web-t1-app", "passing"}, {"web-t1-consul-dataplane", "passing"}});
  EXPECT_FALSE(v.intact());
  EXPECT_EQ(v.missing, (std::vector<std::string>{"web-t1-consul-dataplane", "web-t1-sidecar-proxy-consul-dataplane"}));
  EXPECT_EQ(v.drifted, (std::vector<std::string>{"web-t1-app"}));
  EXPECT_FALSE(mesh::verify_checks(json::array(), r.all_checks(), {}).intact()) << "an empty node lost everything";
  EXPECT_THROW(mesh::verify_checks(json::object(), r.all_checks(), {}), std::runtime_error);
}

TEST(AntiEntropy, ReRegistrationCarriesTheCurrentStatuses) {
  const auto r = regs();
  const auto body = mesh::with_check_states(*r.service, {{"web-t1-app", {"passing", "ECS health status is HEALTHY"}}});
  EXPECT_EQ(body["Checks"][0]["Status"], "passing");
  EXPECT_EQ(body["Checks"][0]["Output"], "ECS health status is HEALTHY");
  EXPECT_EQ(body["Checks"][1]["Status"], "critical") << "checks without a state keep theirs";
  EXPECT_EQ(body["Service"]["ID"], "web-t1");
  EXPECT_EQ(r.service->body["Checks"][0]["Status"], "critical") << "the original body is not changed";
}
