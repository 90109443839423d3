#include "tproxy/apply.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace consulecs::tproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Call {
  std::vector<std::string> argv;
  std::string input;
};

std::vector<Rule> rules() {
  RedirectSettings s;
  s.inbound_port = 20000;
  return build_rules(s);
}

ApplyOptions no_capability_check() {
  ApplyOptions o;
  o.check_capability = false;
  return o;
}

TEST(TproxyApplyTest, SavesThenRestoresWithoutFlushingOthers) {
  std::vector<Call> calls;
  const Runner runner = [&](const std::vector<std::string>& argv, const std::string& input) {
    calls.push_back({argv, input});
    RunResult r{true, 0, "", ""};
    if (argv[0] == "iptables-save") r.output = "*nat\n-A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT\nCOMMIT\n";
    return r;
  };
  const std::string applied = apply_rules(rules(), runner, no_capability_check());
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_THAT(calls[0].argv, ElementsAre("iptables-save", "-t", "nat"));
  EXPECT_THAT(calls[1].argv, ElementsAre("iptables-restore", "--noflush"));
  EXPECT_EQ(calls[1].input, applied);
  EXPECT_THAT(applied, HasSubstr("-D OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT\n"));
}

TEST(TproxyApplyTest, PermissionDeniedNamesNetAdmin) {
  const Runner runner = [](const std::vector<std::string>&, const std::string&) {
    return RunResult{true, 4, "",
                     "iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied "
                     "(you must be root)\n"};
  };
  try {
    apply_rules(rules(), runner, no_capability_check());
    FAIL() << "no error";
  } catch (const ApplyError& e) {
    EXPECT_THAT(e.what(), HasSubstr("NET_ADMIN"));
    EXPECT_THAT(e.what(), HasSubstr("Fargate"));
    EXPECT_THAT(e.what(), HasSubstr("Permission denied"));
  }
}

TEST(TproxyApplyTest, MissingIptablesIsNamed) {
  const Runner runner = [](const std::vector<std::string>& argv, const std::string&) {
    return RunResult{false, -1, "", argv[0] + ": No such file or directory"};
  };
  try {
    apply_rules(rules(), runner, no_capability_check());
    FAIL() << "no error";
  } catch (const ApplyError& e) {
    EXPECT_THAT(e.what(), StartsWith("cannot run iptables-save: iptables-save: No such file or directory"));
  }
}

TEST(TproxyApplyTest, RestoreFailureCarriesIptablesOutput) {
  const Runner runner = [](const std::vector<std::string>& argv, const std::string&) {
    if (argv[0] == "iptables-save") return RunResult{true, 0, "", ""};
    return RunResult{true, 2, "", "iptables-restore: line 9 failed\n"};
  };
  try {
    apply_rules(rules(), runner, no_capability_check());
    FAIL() << "no error";
  } catch (const ApplyError& e) {
    EXPECT_EQ(std::string(e.what()), "iptables-restore failed with exit code 2: iptables-restore: line 9 failed");
  }
}

TEST(TproxyApplyTest, RunProcessFeedsStdinAndReadsBothStreams) {
  const RunResult r = run_process({"sh", "-c", "cat; echo oops >&2; exit 3"}, "hello\n");
  EXPECT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.output, "hello\n");
  EXPECT_EQ(r.errors, "oops\n");
}

TEST(TproxyApplyTest, RunProcessSurvivesAChildThatIgnoresItsInput) {
  const RunResult r = run_process({"true"}, std::string(1 << 20, 'x'));
  EXPECT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 0);
}

TEST(TproxyApplyTest, RunProcessReportsAMissingProgram) {
  const RunResult r = run_process({"/nonexistent/iptables-restore"}, "");
  EXPECT_FALSE(r.started);
  EXPECT_THAT(r.errors, HasSubstr("No such file or directory"));
}

}  // namespace
}  // namespace consulecs::tproxy
