#include "tproxy/resolv_conf.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace consulecs::tproxy {
namespace {

TEST(ResolvConfTest, LocalhostGoesFirstTheRestIsKept) {
  EXPECT_EQ(rewrite_resolv_conf("# written by ECS\n"
                                "search ec2.internal example.com\n"
                                "nameserver 10.0.0.2\n"
                                "nameserver 10.0.0.3\n"
                                "options timeout:2 attempts:5 rotate\n"),
            "# written by ECS\n"
            "search ec2.internal example.com\n"
            "nameserver 127.0.0.1\n"
            "nameserver 10.0.0.2\n"
            "nameserver 10.0.0.3\n"
            "options timeout:2 attempts:5 rotate\n");
}

TEST(ResolvConfTest, RewritingTwiceChangesNothingMore) {
  const std::string once = rewrite_resolv_conf("nameserver 10.0.0.2\noptions ndots:5\n");
  EXPECT_EQ(once, "nameserver 127.0.0.1\nnameserver 10.0.0.2\noptions ndots:5\n");
  EXPECT_EQ(rewrite_resolv_conf(once), once);
}

TEST(ResolvConfTest, LaterLocalhostMovesToTheFront) {
  EXPECT_EQ(rewrite_resolv_conf("nameserver 10.0.0.2\nnameserver   127.0.0.1\n"),
            "nameserver 127.0.0.1\nnameserver 10.0.0.2\n");
}

TEST(ResolvConfTest, NoNameserverOrEmptyFile) {
  EXPECT_EQ(rewrite_resolv_conf(""), "nameserver 127.0.0.1\n");
  EXPECT_EQ(rewrite_resolv_conf("search local"), "search local\nnameserver 127.0.0.1\n");
  EXPECT_EQ(rewrite_resolv_conf("domain x\r\nnameserver 8.8.8.8\r\n"),
            "domain x\nnameserver 127.0.0.1\nnameserver 8.8.8.8\n");
}

class ResolvConfFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/resolv-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    path_ = dir_ + "/resolv.conf";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string read() const {
    std::ifstream in(path_);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir_, path_;
};

TEST_F(ResolvConfFileTest, RewritesTheFileAndLeavesNoTemporary) {
  std::ofstream(path_) << "nameserver 10.0.0.2\n";
  EXPECT_EQ(configure_consul_dns(path_), "nameserver 127.0.0.1\nnameserver 10.0.0.2\n");
  EXPECT_EQ(read(), "nameserver 127.0.0.1\nnameserver 10.0.0.2\n");
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
  // Again: nothing to change.
  EXPECT_EQ(configure_consul_dns(path_), "nameserver 127.0.0.1\nnameserver 10.0.0.2\n");
}

TEST_F(ResolvConfFileTest, MissingFileIsCreated) {
  EXPECT_EQ(configure_consul_dns(path_), "nameserver 127.0.0.1\n");
  EXPECT_EQ(read(), "nameserver 127.0.0.1\n");
}

}  // namespace
}  // namespace consulecs::tproxy
