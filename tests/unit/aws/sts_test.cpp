#include "aws/sts.h"

#include <gtest/gtest.h>

namespace consulecs::aws {
namespace {

TEST(AwsSts, DefaultEndpoints) {
  EXPECT_EQ(default_sts_endpoint("us-west-2"), "https://sts.us-west-2.amazonaws.com");
  EXPECT_EQ(default_sts_endpoint("cn-northwest-1"), "https://sts.cn-northwest-1.amazonaws.com.cn");
  EXPECT_EQ(default_iam_endpoint("eu-central-1").url, "https://iam.amazonaws.com");
  EXPECT_EQ(default_iam_endpoint("eu-central-1").signing_region, "us-east-1");
  EXPECT_EQ(default_iam_endpoint("us-gov-east-1").signing_region, "us-gov-west-1");
  EXPECT_EQ(default_iam_endpoint("cn-north-1").url, "https://iam.cn-north-1.amazonaws.com.cn");
}

TEST(AwsSts, NormalizeEndpoint) {
  EXPECT_EQ(normalize_endpoint("sts.example.com"), "https://sts.example.com");
  EXPECT_EQ(normalize_endpoint("http://127.0.0.1:8080/sts/"), "http://127.0.0.1:8080/sts");
  EXPECT_EQ(normalize_endpoint("https://sts.us-east-1.amazonaws.com"), "https://sts.us-east-1.amazonaws.com");
}

TEST(AwsSts, ParsePrincipalArn) {
  auto role = parse_principal_arn("arn:aws:iam::123456789012:role/some/path/my-role");
  EXPECT_EQ(role.partition, "aws");
  EXPECT_EQ(role.account, "123456789012");
  EXPECT_EQ(role.type, "role");
  EXPECT_EQ(role.path, "some/path");
  EXPECT_EQ(role.friendly_name, "my-role");

  auto assumed = parse_principal_arn("arn:aws:sts::123456789012:assumed-role/my-role/session-name");
  EXPECT_EQ(assumed.type, "assumed-role");
  EXPECT_EQ(assumed.path, "");
  EXPECT_EQ(assumed.friendly_name, "my-role");
  EXPECT_EQ(assumed.session_info, "session-name");

  auto user = parse_principal_arn("arn:aws-us-gov:iam::123456789012:user/alice");
  EXPECT_EQ(user.partition, "aws-us-gov");
  EXPECT_EQ(user.type, "user");
  EXPECT_EQ(user.friendly_name, "alice");

  for (const char* bad :
       {"", "arn:aws:iam::123456789012", "foo:aws:iam::1:role/r", "arn::iam::1:role/r", "arn:aws:ecs::1:role/r",
        "arn:aws:iam:::role/r", "arn:aws:iam::1:role", "arn:aws:sts::1:assumed-role/r",
        "arn:aws:iam::1:instance-profile/p", "arn:aws:iam::1:role/"}) {
    EXPECT_THROW(parse_principal_arn(bad), std::invalid_argument) << bad;
  }
}

TEST(AwsSts, GetCallerIdentitySendsASignedRequestAndReadsTheArn) {
  http::Request seen;
  Transport transport = [&](const http::Request& request) {
    seen = request;
    http::Response response;
    response.status = 200;
    response.body =
        R"(<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>)"
        R"(<Arn>arn:aws:sts::123456789012:assumed-role/my-role/i-0123</Arn><UserId>AROA:i-0123</UserId>)"
        R"(<Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>)";
    return response;
  };
  Credentials creds{"AKID", "SECRET", "TOKEN", std::nullopt, ""};
  const auto now = std::chrono::system_clock::time_point(
      std::chrono::sys_days(std::chrono::year(2024) / 1 / 2).time_since_epoch());
  EXPECT_EQ(get_caller_identity_arn(creds, "us-west-2", "", transport, now),
            "arn:aws:sts::123456789012:assumed-role/my-role/i-0123");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.url, "https://sts.us-west-2.amazonaws.com/");
  EXPECT_EQ(seen.body, "Action=GetCallerIdentity&Version=2011-06-15");
  auto header = [&](std::string_view name) {
    for (const auto& [k, v] : seen.headers) {
      if (k == name) return v;
    }
    return std::string();
  };
  EXPECT_EQ(header("Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(header("X-Amz-Security-Token"), "TOKEN");
  EXPECT_TRUE(header("Authorization")
                  .starts_with("AWS4-HMAC-SHA256 Credential=AKID/20240102/us-west-2/sts/aws4_request, "
                               "SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token, "))
      << header("Authorization");
}

TEST(AwsSts, GetCallerIdentityErrors) {
  Transport denied = [](const http::Request&) {
    http::Response response;
    response.status = 403;
    response.body =
        "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
        "<Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>";
    return response;
  };
  Credentials creds{"AKID", "SECRET", "", std::nullopt, ""};
  try {
    get_caller_identity_arn(creds, "us-east-1", "http://127.0.0.1:1/sts", denied);
    FAIL() << "expected StsError";
  } catch (const StsError& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 403 (InvalidClientTokenId: The security token"), std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find("SECRET"), std::string::npos);
  }
  Transport empty = [](const http::Request&) {
    http::Response response;
    response.status = 200;
    response.body = "<GetCallerIdentityResponse/>";
    return response;
  };
  EXPECT_THROW(get_caller_identity_arn(creds, "us-east-1", "", empty), StsError);
}

}  // namespace
}  // namespace consulecs::aws
