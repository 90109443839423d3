#pragma once
// AWS credentials for signing, from the environment or the ECS/EKS container
// credentials endpoint, and AWS region resolution.
//
// Sources, in order (as the AWS SDKs' default chain, minus profiles and EC2
// instance metadata, which consul-ecs does not use):
//   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN).
//   2. AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: GET http://169.254.170.2<uri>
//      (the ECS task role).
//   3. AWS_CONTAINER_CREDENTIALS_FULL_URI: GET <uri> with the header
//      `Authorization: <token>`, the token read from the file named by
//      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or else taken from
//      AWS_CONTAINER_AUTHORIZATION_TOKEN. Plain http is only allowed to
//      loopback and the ECS/EKS link-local agent addresses.
//
// Test-only: CONSUL_ECS_CONTAINER_CREDENTIALS_HOST (e.g. "127.0.0.1:8080")
// replaces 169.254.170.2 for the relative URI, so tests can serve the
// endpoint locally. Never set it in a real deployment.
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "aws/sigv4.h"
#include "aws/transport.h"

namespace consulecs::aws {

// Messages name the cause (environment variable, HTTP status, missing field)
// and never contain secret values.
class CredentialsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Looks up an environment variable; an empty value counts as unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_env();

using Clock = std::function<std::chrono::system_clock::time_point()>;

inline constexpr std::string_view kContainerCredentialsHost = "169.254.170.2";
inline constexpr std::string_view kTestCredentialsHostEnv = "CONSUL_ECS_CONTAINER_CREDENTIALS_HOST";
// Cached credentials are refreshed this long before they expire.
inline constexpr std::chrono::minutes kRefreshBeforeExpiry{5};
// Container credentials without an Expiration are re-fetched this often.
inline constexpr std::chrono::minutes kRefreshWithoutExpiry{15};

// Parses the container endpoint's JSON: {"AccessKeyId", "SecretAccessKey",
// "Token", "Expiration": "2024-01-01T00:00:00Z", "RoleArn"}.
Credentials parse_container_credentials(std::string_view json_text);

// Parses an RFC 3339 timestamp ("2024-01-01T00:00:00Z", fractional seconds
// and numeric offsets allowed). Throws std::invalid_argument.
std::chrono::system_clock::time_point parse_rfc3339(std::string_view text);

class CredentialsProvider {
 public:
  struct Options {
    EnvLookup env;        // default: process_env()
    Clock clock;          // default: system_clock::now
    Transport transport;  // default: default_transport()
    std::chrono::milliseconds timeout{5000};
  };

  CredentialsProvider();
  explicit CredentialsProvider(Options options);

  // Current credentials. Fetches on first use and refreshes when the cached
  // ones expire within kRefreshBeforeExpiry; if a refresh fails while the
  // cached credentials are still valid, they are returned and a warning is
  // logged. Thread-safe. Throws CredentialsError. `cancel` set: a fetch
  // fails once that flag is set.
  Credentials get(const signals::StopFlag* cancel = nullptr);

  // Where the credentials come from, e.g. "environment variables"; for logs.
  std::string source();

 private:
  enum class Source { Unresolved, Environment, ContainerRelative, ContainerFull };

  void resolve_source_locked();
  Credentials fetch_locked(const signals::StopFlag* cancel);
  Credentials fetch_container_locked(const signals::StopFlag* cancel);
  std::string source_locked() const;

  Options options_;
  std::mutex mutex_;
  Source source_ = Source::Unresolved;
  std::optional<Credentials> cached_;
  std::chrono::system_clock::time_point refresh_at_{};
};

// The AWS region: the configured one when set, else AWS_REGION, else
// AWS_DEFAULT_REGION, else the region field of the task ARN
// (arn:aws:ecs:<region>:<account>:task/...). Throws std::runtime_error when
// none is available.
std::string resolve_region(const std::optional<std::string>& config_region, std::string_view task_arn,
                           const EnvLookup& env = process_env());

}  // namespace consulecs::aws
