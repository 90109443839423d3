#include "ecs/task_metadata.h"

#include <gtest/gtest.h>

#include "util/files.h"

using consulecs::ecs::MetadataError;
using consulecs::ecs::parse_task_metadata;

namespace {
std::string testdata(const std::string& name) {
  return consulecs::files::read_file(std::string(CONSUL_ECS_TESTDATA_DIR) + "/ecs/" + name);
}
}  // namespace

TEST(TaskMetadata, ParsesFargateShape) {
  auto task = parse_task_metadata(testdata("task-fargate.json"));
  EXPECT_EQ(task.task_id(), "e9028f8d5d8e4f258373e7b93ce9a3c3");
  EXPECT_EQ(task.family, "Web-App");
  EXPECT_EQ(task.region(), "us-west-2");
  EXPECT_EQ(task.account_id(), "111122223333");
  EXPECT_EQ(task.availability_zone, "us-west-2a");
  EXPECT_EQ(task.cluster_arn(), "arn:aws:ecs:us-west-2:111122223333:cluster/default");
  EXPECT_EQ(task.node_ip(), "192.0.2.3");
  ASSERT_EQ(task.containers.size(), 2u);
  const auto* app = task.find_container("app");
  ASSERT_NE(app, nullptr);
  ASSERT_TRUE(app->health.has_value());
  EXPECT_EQ(app->health->status, "HEALTHY");
  const auto* dataplane = task.find_container("consul-dataplane");
  ASSERT_NE(dataplane, nullptr);
  EXPECT_TRUE(dataplane->stopped());
  EXPECT_FALSE(dataplane->health.has_value());
  EXPECT_EQ(task.find_container("missing"), nullptr);
}

TEST(TaskMetadata, DerivesClusterArnFromNameOnEc2) {
  auto task = parse_task_metadata(testdata("task-ec2.json"));
  EXPECT_EQ(task.cluster, "default");
  EXPECT_EQ(task.cluster_arn(), "arn:aws:ecs:us-west-2:111122223333:cluster/default");
  EXPECT_EQ(task.task_id(), "158d1c8083dd49d6b527399fd6414f5c");
  EXPECT_EQ(task.node_ip(), "10.0.2.61");
  EXPECT_EQ(task.find_container("curl")->health->status, "UNHEALTHY");
}

TEST(TaskMetadata, DerivesClusterArnInOtherPartitions) {
  auto task = parse_task_metadata(
      R"({"Cluster":"prod","TaskARN":"arn:aws-cn:ecs:cn-north-1:123456789012:task/prod/abc"})");
  EXPECT_EQ(task.partition(), "aws-cn");
  EXPECT_EQ(task.cluster_arn(), "arn:aws-cn:ecs:cn-north-1:123456789012:cluster/prod");
}

TEST(TaskMetadata, RejectsMalformedDocuments) {
  EXPECT_THROW(parse_task_metadata("not json"), MetadataError);
  EXPECT_THROW(parse_task_metadata(R"({"Cluster":"c"})"), MetadataError);
  EXPECT_THROW(parse_task_metadata(R"({"Cluster":"c","TaskARN":"not-an-arn"})"), MetadataError);
  EXPECT_THROW(parse_task_metadata(R"({"TaskARN":"arn:aws:ecs:us-east-1:1:task/c/id"})"), MetadataError);
}
