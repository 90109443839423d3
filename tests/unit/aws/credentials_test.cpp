#include "aws/credentials.h"
#include "support/tiny_http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace consulecs::aws {
namespace {
using consulecs::testing::TinyHttpServer;
using consulecs::testing::http_response;

using std::chrono::system_clock;
using namespace std::chrono_literals;

system_clock::time_point at(int year, unsigned month, unsigned day, int hour = 0, int minute = 0, int second = 0) {
  return system_clock::time_point(std::chrono::sys_days(std::chrono::year(year) / month / day).time_since_epoch() +
                                  std::chrono::hours(hour) + std::chrono::minutes(minute) +
                                  std::chrono::seconds(second));
}

EnvLookup env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

std::string credentials_json(const std::string& expiration, const std::string& key = "ASIAKEY",
                             const std::string& secret = "secret-value-123") {
  return R"({"RoleArn":"arn:aws:iam::123456789012:role/app/my-task-role","AccessKeyId":")" + key +
         R"(","SecretAccessKey":")" + secret + R"(","Token":"token-value-456","Expiration":")" + expiration + R"("})";
}

// A transport that records requests and answers from a queue.
struct FakeTransport {
  struct Shared {
    std::mutex mutex;
    std::vector<http::Request> requests;
    std::vector<std::function<http::Response(const http::Request&)>> answers;
  };
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();

  void answer(long status, std::string body) {
    shared->answers.push_back([status, body](const http::Request&) {
      http::Response response;
      response.status = status;
      response.body = body;
      return response;
    });
  }
  void fail(std::string message) {
    shared->answers.push_back(
        [message](const http::Request&) -> http::Response { throw http::TransportError(message); });
  }
  Transport transport() const {
    return [shared = shared](const http::Request& request) {
      std::function<http::Response(const http::Request&)> next;
      {
        std::lock_guard lock(shared->mutex);
        shared->requests.push_back(request);
        if (shared->answers.empty()) throw http::TransportError("no answer queued");
        next = shared->answers.front();
        if (shared->answers.size() > 1) shared->answers.erase(shared->answers.begin());
      }
      return next(request);
    };
  }
  std::size_t calls() const {
    std::lock_guard lock(shared->mutex);
    return shared->requests.size();
  }
  http::Request request(std::size_t i) const {
    std::lock_guard lock(shared->mutex);
    return shared->requests.at(i);
  }
};

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const CredentialsError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected CredentialsError";
  return {};
}

// --- Parsing ---

TEST(CredentialsParse, Rfc3339) {
  EXPECT_EQ(parse_rfc3339("2024-01-01T00:00:00Z"), at(2024, 1, 1));
  EXPECT_EQ(parse_rfc3339("2017-06-20T19:47:27Z"), at(2017, 6, 20, 19, 47, 27));
  EXPECT_EQ(parse_rfc3339("2024-02-29T10:00:00.5Z"), at(2024, 2, 29, 10) + 500ms);
  EXPECT_EQ(parse_rfc3339("2024-01-01T02:00:00+02:00"), at(2024, 1, 1));
  EXPECT_EQ(parse_rfc3339("2023-12-31T23:30:00-00:30"), at(2024, 1, 1));
  for (const char* bad : {"", "2024-01-01", "2024-01-01T00:00:00", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
                          "2024-01-01T00:00:00Zjunk", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00.Z"}) {
    EXPECT_THROW(parse_rfc3339(bad), std::invalid_argument) << bad;
  }
}

// Found by fuzz/aws_credentials.cpp: a year past 2262 overflowed the
// nanosecond count of system_clock (UBSan: signed integer overflow).
TEST(CredentialsParse, Rfc3339YearsOutsideTheClockAreErrors) {
  for (const char* bad : {"4052-12-01T12:34:56Z", "9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z",
                          "0001-01-01T00:00:00Z", "1677-01-01T00:00:00Z"}) {
    EXPECT_THROW(parse_rfc3339(bad), std::invalid_argument) << bad;
  }
  EXPECT_NO_THROW(parse_rfc3339("2261-12-31T23:59:59+00:00"));
  EXPECT_NO_THROW(parse_rfc3339("1678-01-01T00:00:00Z"));
  EXPECT_THROW(parse_container_credentials(credentials_json("4052-12-01T12:34:56Z")), CredentialsError);
}

TEST(CredentialsParse, ContainerResponse) {
  const Credentials creds = parse_container_credentials(credentials_json("2024-01-01T00:00:00Z"));
  EXPECT_EQ(creds.access_key_id, "ASIAKEY");
  EXPECT_EQ(creds.secret_access_key, "secret-value-123");
  EXPECT_EQ(creds.session_token, "token-value-456");
  EXPECT_EQ(creds.role_arn, "arn:aws:iam::123456789012:role/app/my-task-role");
  ASSERT_TRUE(creds.expiration);
  EXPECT_EQ(*creds.expiration, at(2024, 1, 1));

  const Credentials minimal = parse_container_credentials(R"({"AccessKeyId":"A","SecretAccessKey":"S"})");
  EXPECT_TRUE(minimal.session_token.empty());
  EXPECT_FALSE(minimal.expiration);
}

TEST(CredentialsParse, ErrorsNameTheFieldAndNeverTheSecret) {
  const std::string missing_key = error_of([] { parse_container_credentials(R"({"SecretAccessKey":"s3cr3t"})"); });
  EXPECT_NE(missing_key.find("AccessKeyId"), std::string::npos);
  EXPECT_EQ(missing_key.find("s3cr3t"), std::string::npos);

  const std::string missing_secret = error_of(
      [] { parse_container_credentials(R"({"AccessKeyId":"AKID","Token":"t0k"})"); });
  EXPECT_NE(missing_secret.find("SecretAccessKey"), std::string::npos);
  EXPECT_EQ(missing_secret.find("t0k"), std::string::npos);

  const std::string bad_expiry = error_of(
      [] { parse_container_credentials(R"({"AccessKeyId":"A","SecretAccessKey":"s3cr3t","Expiration":"soon"})"); });
  EXPECT_NE(bad_expiry.find("Expiration"), std::string::npos);
  EXPECT_EQ(bad_expiry.find("s3cr3t"), std::string::npos);

  EXPECT_NE(error_of([] { parse_container_credentials("not json s3cr3t"); }).find("not a JSON object"),
            std::string::npos);
  EXPECT_EQ(error_of([] { parse_container_credentials("not json s3cr3t"); }).find("s3cr3t"), std::string::npos);
}

// --- Sources ---

TEST(CredentialsProvider, EnvironmentVariables) {
  CredentialsProvider provider({env_of({{"AWS_ACCESS_KEY_ID", "AKID"},
                                        {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                        {"AWS_SESSION_TOKEN", "TOKEN"},
                                        {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x"}}),
                                {},
                                FakeTransport{}.transport()});
  const Credentials creds = provider.get();
  EXPECT_EQ(creds.access_key_id, "AKID");
  EXPECT_EQ(creds.secret_access_key, "SECRET");
  EXPECT_EQ(creds.session_token, "TOKEN");
  EXPECT_FALSE(creds.expiration);
  EXPECT_EQ(provider.source(), "environment variables");
}

TEST(CredentialsProvider, NoSourceNamesTheVariables) {
  CredentialsProvider provider({env_of({{"AWS_ACCESS_KEY_ID", "AKID"}}), {}, FakeTransport{}.transport()});
  const std::string message = error_of([&] { provider.get(); });
  EXPECT_NE(message.find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
  EXPECT_NE(message.find("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), std::string::npos);
  EXPECT_EQ(provider.source(), "none");
}

TEST(CredentialsProvider, RelativeUriUsesTheEcsAgentAddress) {
  FakeTransport fake;
  fake.answer(200, credentials_json("2024-01-01T00:00:00Z"));
  CredentialsProvider provider({env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123"},
                                        {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "unused"}}),
                                [] { return at(2023, 12, 31); }, fake.transport()});
  const Credentials creds = provider.get();
  EXPECT_EQ(creds.access_key_id, "ASIAKEY");
  ASSERT_EQ(fake.calls(), 1u);
  EXPECT_EQ(fake.request(0).method, "GET");
  EXPECT_EQ(fake.request(0).url, "http://169.254.170.2/v2/credentials/abc-123");
  EXPECT_TRUE(fake.request(0).headers.empty());  // no Authorization for the relative URI
  EXPECT_EQ(provider.source(), "container credentials endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)");
}

TEST(CredentialsProvider, TestOnlyHostOverride) {
  FakeTransport fake;
  fake.answer(200, credentials_json("2024-01-01T00:00:00Z"));
  CredentialsProvider provider({env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds"},
                                        {"CONSUL_ECS_CONTAINER_CREDENTIALS_HOST", "127.0.0.1:9999"}}),
                                [] { return at(2023, 12, 31); }, fake.transport()});
  provider.get();
  EXPECT_EQ(fake.request(0).url, "http://127.0.0.1:9999/creds");
}

TEST(CredentialsProvider, FullUriWithTokenFromEnvironment) {
  FakeTransport fake;
  fake.answer(200, credentials_json("2024-01-01T00:00:00Z"));
  CredentialsProvider provider({env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials"},
                                        {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc"}}),
                                [] { return at(2023, 12, 31); }, fake.transport()});
  provider.get();
  EXPECT_EQ(fake.request(0).url, "http://169.254.170.23/v1/credentials");
  ASSERT_EQ(fake.request(0).headers.size(), 1u);
  EXPECT_EQ(fake.request(0).headers[0], (std::pair<std::string, std::string>{"Authorization", "Basic abc"}));
}

TEST(CredentialsProvider, FullUriTokenFileTakesPrecedence) {
  const auto path = std::filesystem::temp_directory_path() / ("consul-ecs-token-" + std::to_string(::getpid()));
  std::ofstream(path) << "token-from-file\n";
  FakeTransport fake;
  fake.answer(200, credentials_json("2024-01-01T00:00:00Z"));
  CredentialsProvider provider({env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://creds.example.com/x"},
                                        {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "token-from-env"},
                                        {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path.string()}}),
                                [] { return at(2023, 12, 31); }, fake.transport()});
  provider.get();
  std::filesystem::remove(path);
  ASSERT_EQ(fake.request(0).headers.size(), 1u);
  EXPECT_EQ(fake.request(0).headers[0].second, "token-from-file");
}

TEST(CredentialsProvider, FullUriRules) {
  auto attempt = [](std::map<std::string, std::string> env) {
    FakeTransport fake;
    fake.answer(200, credentials_json("2024-01-01T00:00:00Z"));
    CredentialsProvider provider({env_of(std::move(env)), [] { return at(2023, 12, 31); }, fake.transport()});
    return error_of([&] { provider.get(); });
  };
  const std::string plain_http = attempt({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.5/creds"}});
  EXPECT_NE(plain_http.find("AWS_CONTAINER_CREDENTIALS_FULL_URI"), std::string::npos);
  EXPECT_NE(plain_http.find("https"), std::string::npos);

  const std::string line_break = attempt({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8080/creds"},
                                          {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "abc\r\nX-Evil: 1"}});
  EXPECT_NE(line_break.find("AWS_CONTAINER_AUTHORIZATION_TOKEN"), std::string::npos);
  EXPECT_EQ(line_break.find("abc"), std::string::npos);

  const std::string missing_file = attempt({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://localhost/creds"},
                                            {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/token"}});
  EXPECT_NE(missing_file.find("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), std::string::npos);

  EXPECT_NE(attempt({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "not a url"}}).find("not an absolute URL"),
            std::string::npos);
}

TEST(CredentialsProvider, HttpErrorsNameStatusAndSourceButNoSecrets) {
  FakeTransport fake;
  fake.answer(404, R"({"code":"NoCredentialsFound","message":"no role","SecretAccessKey":"leak-me"})");
  CredentialsProvider provider({env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/secret-path"},
                                        {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok"}}),
                                [] { return at(2023, 12, 31); }, fake.transport()});
  const std::string message = error_of([&] { provider.get(); });
  EXPECT_NE(message.find("HTTP 404"), std::string::npos);
  EXPECT_NE(message.find("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), std::string::npos);
  EXPECT_NE(message.find("NoCredentialsFound"), std::string::npos);
  EXPECT_EQ(message.find("leak-me"), std::string::npos);
  EXPECT_EQ(message.find("secret-path"), std::string::npos);
}

TEST(CredentialsProvider, TransportErrorsDoNotRepeatTheEndpointPath) {
  FakeTransport fake;
  fake.fail("GET http://169.254.170.2/v2/credentials/secret-path: Connection refused");
  CredentialsProvider provider({env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/secret-path"}}),
                                [] { return at(2023, 12, 31); }, fake.transport()});
  const std::string message = error_of([&] { provider.get(); });
  EXPECT_NE(message.find("Connection refused"), std::string::npos);
  EXPECT_NE(message.find("169.254.170.2"), std::string::npos);
  EXPECT_EQ(message.find("secret-path"), std::string::npos);
}

TEST(CredentialsProvider, BadResponseBodyDoesNotEchoIt) {
  FakeTransport fake;
  fake.answer(200, R"({"AccessKeyId":"AKID","SecretAccessKey":12345678})");
  CredentialsProvider provider(
      {env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c"}}), [] { return at(2023, 12, 31); }, fake.transport()});
  const std::string message = error_of([&] { provider.get(); });
  EXPECT_NE(message.find("SecretAccessKey"), std::string::npos);
  EXPECT_EQ(message.find("12345678"), std::string::npos);
}

// --- Caching and refresh ---

struct ManualClock {
  std::shared_ptr<std::atomic<system_clock::rep>> ticks = std::make_shared<std::atomic<system_clock::rep>>(0);
  void set(system_clock::time_point t) { ticks->store(t.time_since_epoch().count()); }
  Clock clock() const {
    return [ticks = ticks] { return system_clock::time_point(system_clock::duration(ticks->load())); };
  }
};

TEST(CredentialsProvider, RefreshesFiveMinutesBeforeExpiration) {
  const auto expiry = at(2024, 1, 1, 12);
  FakeTransport fake;
  fake.answer(200, credentials_json("2024-01-01T12:00:00Z", "KEY1"));
  ManualClock clock;
  clock.set(expiry - 1h);
  CredentialsProvider provider(
      {env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c"}}), clock.clock(), fake.transport()});

  EXPECT_EQ(provider.get().access_key_id, "KEY1");
  EXPECT_EQ(fake.calls(), 1u);
  clock.set(expiry - 5min - 1s);
  EXPECT_EQ(provider.get().access_key_id, "KEY1");  // cached
  EXPECT_EQ(fake.calls(), 1u);

  fake.shared->answers.clear();
  fake.answer(200, credentials_json("2024-01-01T18:00:00Z", "KEY2"));
  clock.set(expiry - 5min);
  EXPECT_EQ(provider.get().access_key_id, "KEY2");  // refreshed
  EXPECT_EQ(fake.calls(), 2u);
  clock.set(expiry + 1h);
  EXPECT_EQ(provider.get().access_key_id, "KEY2");
  EXPECT_EQ(fake.calls(), 2u);
}

TEST(CredentialsProvider, FailedRefreshKeepsStillValidCredentialsThenFails) {
  const auto expiry = at(2024, 1, 1, 12);
  FakeTransport fake;
  fake.answer(200, credentials_json("2024-01-01T12:00:00Z", "KEY1"));
  ManualClock clock;
  clock.set(expiry - 1h);
  CredentialsProvider provider(
      {env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c"}}), clock.clock(), fake.transport()});
  provider.get();

  fake.shared->answers.clear();
  fake.answer(500, "{}");
  clock.set(expiry - 2min);
  EXPECT_EQ(provider.get().access_key_id, "KEY1");  // refresh failed, old ones still valid
  EXPECT_EQ(fake.calls(), 2u);

  clock.set(expiry + 1s);
  EXPECT_NE(error_of([&] { provider.get(); }).find("HTTP 500"), std::string::npos);
}

TEST(CredentialsProvider, NoExpirationMeansPeriodicRefetch) {
  FakeTransport fake;
  fake.answer(200, R"({"AccessKeyId":"A","SecretAccessKey":"S"})");
  ManualClock clock;
  clock.set(at(2024, 1, 1));
  CredentialsProvider provider(
      {env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c"}}), clock.clock(), fake.transport()});
  provider.get();
  clock.set(at(2024, 1, 1) + kRefreshWithoutExpiry - 1s);
  provider.get();
  EXPECT_EQ(fake.calls(), 1u);
  clock.set(at(2024, 1, 1) + kRefreshWithoutExpiry);
  provider.get();
  EXPECT_EQ(fake.calls(), 2u);
}

TEST(CredentialsProvider, ConcurrentCallersShareOneFetch) {
  FakeTransport fake;
  fake.answer(200, credentials_json("2024-01-01T12:00:00Z"));
  CredentialsProvider provider(
      {env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c"}}), [] { return at(2024, 1, 1); }, fake.transport()});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j) {
        if (provider.get().access_key_id == "ASIAKEY") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(fake.calls(), 1u);
}

// --- Against a real local HTTP endpoint (libcurl through http::Client) ---

TEST(CredentialsEndpoint, FetchesFromALocalContainerEndpoint) {
  TinyHttpServer server(http_response(200, credentials_json("2030-01-01T00:00:00Z")));
  CredentialsProvider provider(
      {env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/task-id"},
               {"CONSUL_ECS_CONTAINER_CREDENTIALS_HOST", "127.0.0.1:" + std::to_string(server.port())}}),
       {},
       {}});  // default clock and transport
  const Credentials creds = provider.get();
  EXPECT_EQ(creds.access_key_id, "ASIAKEY");
  EXPECT_EQ(creds.session_token, "token-value-456");
  ASSERT_TRUE(creds.expiration);
  EXPECT_EQ(*creds.expiration, at(2030, 1, 1));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].starts_with("GET /v2/credentials/task-id HTTP/1.1\r\n")) << requests[0];
}

TEST(CredentialsEndpoint, FullUriSendsTheAuthorizationToken) {
  TinyHttpServer server(http_response(200, credentials_json("2030-01-01T00:00:00Z")));
  CredentialsProvider provider(
      {env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:" + std::to_string(server.port()) + "/get"},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "my-auth-token"}}),
       {},
       {}});
  provider.get();
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_NE(requests[0].find("\r\nAuthorization: my-auth-token\r\n"), std::string::npos) << requests[0];
}

TEST(CredentialsEndpoint, ReportsHttpStatus) {
  TinyHttpServer server(http_response(403, R"({"code":"AccessDenied","message":"denied"})"));
  CredentialsProvider provider(
      {env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x"},
               {"CONSUL_ECS_CONTAINER_CREDENTIALS_HOST", "127.0.0.1:" + std::to_string(server.port())}}),
       {},
       {}});
  const std::string message = error_of([&] { provider.get(); });
  EXPECT_NE(message.find("HTTP 403"), std::string::npos) << message;
  EXPECT_NE(message.find("AccessDenied"), std::string::npos) << message;
}

// --- Region ---

TEST(AwsRegion, Resolution) {
  const std::string arn = "arn:aws:ecs:eu-west-1:123456789012:task/cluster/0123456789abcdef";
  const auto all = env_of({{"AWS_REGION", "us-west-2"}, {"AWS_DEFAULT_REGION", "us-east-2"}});
  EXPECT_EQ(resolve_region(std::string("ap-south-1"), arn, all), "ap-south-1");
  EXPECT_EQ(resolve_region(std::string(""), arn, all), "us-west-2");
  EXPECT_EQ(resolve_region(std::nullopt, arn, all), "us-west-2");
  EXPECT_EQ(resolve_region(std::nullopt, arn, env_of({{"AWS_DEFAULT_REGION", "us-east-2"}})), "us-east-2");
  EXPECT_EQ(resolve_region(std::nullopt, arn, env_of({})), "eu-west-1");
  EXPECT_EQ(resolve_region(std::nullopt, "arn:aws-cn:ecs:cn-north-1:1:task/c/t", env_of({})), "cn-north-1");
  EXPECT_THROW(resolve_region(std::nullopt, "", env_of({})), std::runtime_error);
  EXPECT_THROW(resolve_region(std::nullopt, "arn:aws:ecs::1:task/c/t", env_of({})), std::runtime_error);
  EXPECT_THROW(resolve_region(std::nullopt, "not-an-arn", env_of({})), std::runtime_error);
}

}  // namespace
}  // namespace consulecs::aws
