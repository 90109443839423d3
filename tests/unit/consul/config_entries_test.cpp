#include "consul/config_entries.h"

#include <gtest/gtest.h>

#include "consul/client.h"
#include "support/scripted_http_server.h"

using namespace consulecs;
using consulecs::testing::http_response;
using consulecs::testing::ScriptedHttpServer;
using nlohmann::json;

namespace {

config::Config resilient_config(const std::string& outlier = "", const std::string& scope = "") {
  std::string resilience = R"("networkResilienceConfig": {"enabled": true)";
  if (!outlier.empty()) resilience += R"(, "outlierDetection": )" + outlier;
  resilience += "}";
  return config::load_config(R"({"bootstrapDir": "/c", "consulServers": {"hosts": "h"},
      "service": {"name": "web", "port": 8080, )" + scope + resilience + "}}",
                             config::SchemaVersion::k0_10_0);
}

consul::Client client_for(int port) {
  consul::ServerConfig config;
  config.hosts = "127.0.0.1";
  config.port = port;
  return consul::Client(config);
}

const json kDefaultCheck = {
    {"Interval", 10000000000LL}, {"MaxFailures", 5}, {"EnforcingConsecutiveGatewayFailure", 100}, {"MaxEjectionPercent", 50}};

// What Consul 1.15.4 answers for an entry made with `consul config write`
// (normalised empty fields included).
json existing_entry(std::uint64_t modify_index) {
  return {{"Kind", "service-defaults"},
          {"Name", "web"},
          {"Protocol", "http"},
          {"TransparentProxy", json::object()},
          {"MeshGateway", json::object()},
          {"Expose", json::object()},
          {"UpstreamConfig",
           {{"Defaults", {{"Peer", ""}, {"ConnectTimeoutMs", 5000}, {"MeshGateway", json::object()},
                          {"PassiveHealthCheck", {{"Interval", 1000000000}, {"MaxFailures", 1}}}}},
            {"Overrides", json::array({{{"Name", "db"}, {"ConnectTimeoutMs", 100}}})}}},
          {"CreateIndex", 3},
          {"ModifyIndex", modify_index}};
}

}  // namespace

TEST(ServiceDefaults, PassiveHealthCheckUsesTheReferenceDefaults) {
  EXPECT_EQ(consul::passive_health_check(resilient_config()), kDefaultCheck);
}

TEST(ServiceDefaults, PassiveHealthCheckMapsEveryOutlierField) {
  const auto cfg = resilient_config(R"({"interval": 2500000000, "maxFailures": 3, "enforcingConsecutive5xx": 90,
      "consecutive5xx": 4, "enforcingConsecutiveGatewayFailure": 80, "consecutiveGatewayFailure": 6,
      "maxEjectionPercent": 20})");
  EXPECT_EQ(consul::passive_health_check(cfg),
            json({{"Interval", 2500000000LL}, {"MaxFailures", 3}, {"EnforcingConsecutive5xx", 90},
                  {"Consecutive5xx", 4}, {"EnforcingConsecutiveGatewayFailure", 80},
                  {"ConsecutiveGatewayFailure", 6}, {"MaxEjectionPercent", 20}}));
}

TEST(ServiceDefaults, PartialOutlierBlockKeepsGoZeroValuesAndFillsTwoDefaults) {
  // As the reference: a given block is used as is (interval 0 is omitted,
  // maxFailures 0 written), only the two pointer defaults are filled in.
  const auto cfg = resilient_config(R"({"consecutive5xx": 7})");
  EXPECT_EQ(consul::passive_health_check(cfg),
            json({{"MaxFailures", 0}, {"Consecutive5xx", 7}, {"EnforcingConsecutiveGatewayFailure", 100},
                  {"MaxEjectionPercent", 50}}));
}

TEST(ServiceDefaults, MergeIntoNothingMakesAMinimalEntry) {
  const json entry = consul::merge_service_defaults(std::nullopt, "web", resilient_config());
  EXPECT_EQ(entry, json({{"Kind", "service-defaults"},
                         {"Name", "web"},
                         {"UpstreamConfig", {{"Defaults", {{"PassiveHealthCheck", kDefaultCheck}}}}}}));
}

TEST(ServiceDefaults, MergeKeepsEveryOtherFieldOfTheExistingEntry) {
  const json existing = existing_entry(7);
  const json entry = consul::merge_service_defaults(existing, "web", resilient_config());
  json expected = existing;
  expected["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"] = kDefaultCheck;
  EXPECT_EQ(entry, expected);
}

TEST(ServiceDefaults, MergeOwnsTheOutlierKeysAndKeepsOtherPassiveHealthCheckKeys) {
  json existing = existing_entry(7);
  existing["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"] = {
      {"Interval", 1}, {"Consecutive5xx", 9}, {"BaseEjectionTime", 30000000000LL}};
  const json entry = consul::merge_service_defaults(existing, "web", resilient_config());
  json expected = kDefaultCheck;
  expected["BaseEjectionTime"] = 30000000000LL;  // not a config field: kept
  // Consecutive5xx is unset in the config: removed, not left behind.
  EXPECT_EQ(entry["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"], expected);
}

TEST(ServiceDefaults, MergeSetsNamespaceAndPartition) {
  const auto cfg = resilient_config("", R"("namespace": "team", "partition": "part1", )");
  const json entry = consul::merge_service_defaults(json{{"Kind", "service-defaults"}, {"Name", "web"}}, "web", cfg);
  EXPECT_EQ(entry["Namespace"], "team");
  EXPECT_EQ(entry["Partition"], "part1");
  EXPECT_EQ(entry["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"], kDefaultCheck);
}

TEST(ServiceDefaults, MergeReplacesANullUpstreamConfig) {
  const json entry =
      consul::merge_service_defaults(json{{"Kind", "service-defaults"}, {"Name", "web"}, {"UpstreamConfig", nullptr}},
                                     "web", resilient_config());
  EXPECT_EQ(entry["UpstreamConfig"], json({{"Defaults", {{"PassiveHealthCheck", kDefaultCheck}}}}));
}

TEST(ServiceDefaults, UpsertCreatesAnAbsentEntryWithCasZero) {
  ScriptedHttpServer server({http_response(404, R"(Config entry not found for "service-defaults" / "web")"),
                             http_response(200, "true")});
  auto client = client_for(server.port());
  EXPECT_TRUE(consul::upsert_service_defaults(client.as_call(), "web", resilient_config()));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].request_line, "GET /v1/config/service-defaults/web HTTP/1.1");
  EXPECT_EQ(requests[1].request_line, "PUT /v1/config?cas=0 HTTP/1.1");
  EXPECT_EQ(json::parse(requests[1].body), consul::merge_service_defaults(std::nullopt, "web", resilient_config()));
}

TEST(ServiceDefaults, UpsertRereadsAndRetriesAfterACasConflict) {
  json after_conflict = existing_entry(9);
  after_conflict["Protocol"] = "grpc";  // the other writer's change must survive
  ScriptedHttpServer server({http_response(200, existing_entry(7).dump()), http_response(200, "false"),
                             http_response(200, after_conflict.dump()), http_response(200, "true")});
  auto client = client_for(server.port());
  EXPECT_TRUE(consul::upsert_service_defaults(client.as_call(), "web", resilient_config()));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[1].request_line, "PUT /v1/config?cas=7 HTTP/1.1");
  EXPECT_EQ(requests[2].request_line, "GET /v1/config/service-defaults/web HTTP/1.1");
  EXPECT_EQ(requests[3].request_line, "PUT /v1/config?cas=9 HTTP/1.1");
  const json written = json::parse(requests[3].body);
  EXPECT_EQ(written["Protocol"], "grpc");
  EXPECT_EQ(written["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"], kDefaultCheck);
  EXPECT_EQ(written["UpstreamConfig"]["Defaults"]["ConnectTimeoutMs"], 5000);
}

TEST(ServiceDefaults, UpsertWritesNothingWhenTheEntryIsUpToDate) {
  const json current = consul::merge_service_defaults(existing_entry(12), "web", resilient_config());
  ScriptedHttpServer server({http_response(200, current.dump())});
  auto client = client_for(server.port());
  EXPECT_FALSE(consul::upsert_service_defaults(client.as_call(), "web", resilient_config()));
  ASSERT_EQ(server.requests().size(), 1u) << "no PUT for an unchanged entry";
}

TEST(ServiceDefaults, UpsertGivesUpAfterTheLastConflict) {
  ScriptedHttpServer server({http_response(200, existing_entry(7).dump()), http_response(200, "false"),
                             http_response(200, existing_entry(8).dump()), http_response(200, "false"),
                             http_response(200, existing_entry(9).dump()), http_response(200, "false")});
  auto client = client_for(server.port());
  try {
    consul::upsert_service_defaults(client.as_call(), "web", resilient_config(), 3);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("service-defaults web"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("3 attempts (compare-and-set conflict)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.requests().size(), 6u);
}

TEST(ServiceDefaults, UpsertPassesOtherErrorsThrough) {
  ScriptedHttpServer server({http_response(403, "Permission denied")});
  auto client = client_for(server.port());
  try {
    consul::upsert_service_defaults(client.as_call(), "web", resilient_config());
    FAIL() << "expected an error";
  } catch (const consul::ApiError& e) {
    EXPECT_EQ(e.status(), 403);
  }
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(ServiceDefaults, UpsertDropsKeysAnOlderConsulRejects) {
  // Consul 1.15.4's answer to EnforcingConsecutiveGatewayFailure.
  ScriptedHttpServer server(
      {http_response(404, "not found"),
       http_response(400, "Request decoding failed: 1 error occurred:\n\t* invalid config key "
                          "\"UpstreamConfig.Defaults.PassiveHealthCheck.EnforcingConsecutiveGatewayFailure\"\n"),
       http_response(404, "not found"), http_response(200, "true")});
  auto client = client_for(server.port());
  const auto cfg = resilient_config(R"({"interval": 1000000000, "maxFailures": 2, "consecutive5xx": 3,
      "enforcingConsecutive5xx": 50})");
  EXPECT_TRUE(consul::upsert_service_defaults(client.as_call(), "web", cfg));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(json::parse(requests[3].body)["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"],
            json({{"Interval", 1000000000}, {"MaxFailures", 2}, {"EnforcingConsecutive5xx", 50},
                  {"MaxEjectionPercent", 50}}));
}

TEST(ServiceDefaults, UpsertScopesBothCallsToTheNamespaceAndPartition) {
  ScriptedHttpServer server({http_response(404, "not found"), http_response(200, "true")});
  auto client = client_for(server.port());
  const auto cfg = resilient_config("", R"("namespace": "team", "partition": "part1", )");
  EXPECT_TRUE(consul::upsert_service_defaults(client.as_call(), "web", cfg));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].request_line, "GET /v1/config/service-defaults/web?ns=team&partition=part1 HTTP/1.1");
  EXPECT_EQ(requests[1].request_line, "PUT /v1/config?cas=0&ns=team&partition=part1 HTTP/1.1");
}
