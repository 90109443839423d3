#include "aws/credentials.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

#include "util/json_parse.h"
#include "util/log.h"

namespace consulecs::aws {
namespace {

using std::chrono::system_clock;

constexpr const char* kAccessKeyEnv = "AWS_ACCESS_KEY_ID";
constexpr const char* kSecretKeyEnv = "AWS_SECRET_ACCESS_KEY";
constexpr const char* kSessionTokenEnv = "AWS_SESSION_TOKEN";
constexpr const char* kRelativeUriEnv = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
constexpr const char* kFullUriEnv = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
constexpr const char* kAuthTokenEnv = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
constexpr const char* kAuthTokenFileEnv = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";

std::string format_time(system_clock::time_point time) {
  const std::time_t seconds = system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  return std::string(buffer, std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm));
}

// Host part of a URL authority, without port or IPv6 brackets.
std::string host_only(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    return std::string(authority.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  return std::string(authority.substr(0, authority.find(':')));
}

bool allowed_plain_http_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "169.254.170.2" || host == "169.254.170.23" ||
      host == "fd00:ec2::23") {
    return true;
  }
  return host.starts_with("127.") && host.find_first_not_of("0123456789.") == std::string::npos;
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw CredentialsError(std::string("cannot read the file named by ") + kAuthTokenFileEnv + " (" + path + ")");
  std::ostringstream content;
  content << in.rdbuf();
  std::string token = content.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

// Strips the "METHOD URL: " prefix http::Client puts on transport errors so
// the message does not repeat the (credential-bearing) endpoint path.
std::string transport_detail(const http::TransportError& error, const http::Request& request) {
  std::string_view what = error.what();
  const std::string prefix = request.method + " " + request.url + ": ";
  if (what.starts_with(prefix)) what.remove_prefix(prefix.size());
  return std::string(what);
}

std::string error_body_summary(const std::string& body) {
  // The agent answers errors with {"code": "...", "message": "..."}; nothing else is echoed.
  const auto parsed = util::parse_json_or_discarded(body, "container credentials error response");
  if (!parsed.is_object()) return {};
  std::string summary;
  for (const char* key : {"code", "message"}) {
    if (const auto it = parsed.find(key); it != parsed.end() && it->is_string()) {
      if (!summary.empty()) summary += ": ";
      summary += it->get<std::string>().substr(0, 200);
    }
  }
  return summary.empty() ? summary : " (" + summary + ")";
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

system_clock::time_point parse_rfc3339(std::string_view text) {
  const auto fail = [&] { return std::invalid_argument("not an RFC 3339 timestamp: " + std::string(text)); };
  auto digits = [&](std::size_t pos, std::size_t count) {
    if (pos + count > text.size()) throw fail();
    int value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
      if (text[i] < '0' || text[i] > '9') throw fail();
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  auto expect = [&](std::size_t pos, std::string_view allowed) {
    if (pos >= text.size() || allowed.find(text[pos]) == std::string_view::npos) throw fail();
  };
  const int year = digits(0, 4);
  expect(4, "-");
  const int month = digits(5, 2);
  expect(7, "-");
  const int day = digits(8, 2);
  expect(10, "Tt ");
  const int hour = digits(11, 2);
  expect(13, ":");
  const int minute = digits(14, 2);
  expect(16, ":");
  const int second = digits(17, 2);
  std::size_t pos = 19;
  std::chrono::nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    long long nanos = 0;
    int count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (count < 9) nanos = nanos * 10 + (text[pos] - '0');
      ++count;
      ++pos;
    }
    if (count == 0) throw fail();
    for (int i = count; i < 9; ++i) nanos *= 10;
    fraction = std::chrono::nanoseconds(nanos);
  }
  std::chrono::minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    const int oh = digits(pos + 1, 2);
    expect(pos + 3, ":");
    const int om = digits(pos + 4, 2);
    offset = std::chrono::minutes(sign * (oh * 60 + om));
    pos += 6;
  } else {
    throw fail();
  }
  if (pos != text.size()) throw fail();

  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  // system_clock counts nanoseconds in 64 bits: 1677-09-21 to 2262-04-11.
  // A year outside it would overflow (UB), found by fuzz/aws_credentials.cpp.
  if (year < 1678 || year > 2261) throw fail();
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) throw fail();
  const auto time = std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                    std::chrono::seconds(second) - offset;
  return std::chrono::time_point_cast<system_clock::duration>(time + fraction);
}

Credentials parse_container_credentials(std::string_view json_text) {
  const auto parsed = util::parse_json_or_discarded(json_text, "container credentials response");
  if (!parsed.is_object()) throw CredentialsError("container credentials response is not a JSON object");
  auto field = [&](const char* name, bool required) -> std::string {
    const auto it = parsed.find(name);
    if (it == parsed.end() || it->is_null()) {
      if (required) throw CredentialsError(std::string("container credentials response has no ") + name);
      return {};
    }
    if (!it->is_string())
      throw CredentialsError(std::string("container credentials response: ") + name + " is not a string");
    std::string value = it->get<std::string>();
    if (required && value.empty())
      throw CredentialsError(std::string("container credentials response has an empty ") + name);
    return value;
  };
  Credentials credentials;
  credentials.access_key_id = field("AccessKeyId", true);
  credentials.secret_access_key = field("SecretAccessKey", true);
  credentials.session_token = field("Token", false);
  credentials.role_arn = field("RoleArn", false);
  if (const std::string expiration = field("Expiration", false); !expiration.empty()) {
    try {
      credentials.expiration = parse_rfc3339(expiration);
    } catch (const std::invalid_argument& e) {
      throw CredentialsError(std::string("container credentials response: bad Expiration: ") + e.what());
    }
  }
  return credentials;
}

CredentialsProvider::CredentialsProvider() : CredentialsProvider(Options{}) {}

CredentialsProvider::CredentialsProvider(Options options) : options_(std::move(options)) {
  if (!options_.env) options_.env = process_env();
  if (!options_.clock) options_.clock = [] { return system_clock::now(); };
  if (!options_.transport) options_.transport = default_transport();
}

Credentials CredentialsProvider::get(const signals::StopFlag* cancel) {
  std::lock_guard lock(mutex_);
  const auto now = options_.clock();
  if (cached_ && now < refresh_at_) return *cached_;
  try {
    Credentials fresh = fetch_locked(cancel);
    if (fresh.expiration) {
      refresh_at_ = *fresh.expiration - kRefreshBeforeExpiry;
      log::debug("fetched AWS credentials from {}, expiring {}", source_locked(), format_time(*fresh.expiration));
    } else if (source_ == Source::Environment) {
      refresh_at_ = system_clock::time_point::max();
    } else {
      refresh_at_ = now + kRefreshWithoutExpiry;
      log::debug("fetched AWS credentials from {} (no expiration given)", source_locked());
    }
    cached_ = std::move(fresh);
    return *cached_;
  } catch (const CredentialsError& e) {
    if (cached_ && (!cached_->expiration || now < *cached_->expiration)) {
      log::warn("refreshing AWS credentials failed, using the cached ones{}: {}",
                cached_->expiration ? " valid until " + format_time(*cached_->expiration) : std::string(), e.what());
      return *cached_;
    }
    throw;
  }
}

std::string CredentialsProvider::source() {
  std::lock_guard lock(mutex_);
  try {
    resolve_source_locked();
  } catch (const CredentialsError&) {
    return "none";
  }
  return source_locked();
}

std::string CredentialsProvider::source_locked() const {
  switch (source_) {
    case Source::Environment: return "environment variables";
    case Source::ContainerRelative: return std::string("container credentials endpoint (") + kRelativeUriEnv + ")";
    case Source::ContainerFull: return std::string("container credentials endpoint (") + kFullUriEnv + ")";
    case Source::Unresolved: break;
  }
  return "unresolved";
}

void CredentialsProvider::resolve_source_locked() {
  if (source_ != Source::Unresolved) return;
  const auto& env = options_.env;
  const bool has_key = env(kAccessKeyEnv).has_value();
  const bool has_secret = env(kSecretKeyEnv).has_value();
  if (has_key && has_secret) {
    source_ = Source::Environment;
    return;
  }
  if (has_key != has_secret) {
    log::warn("{} is set but {} is not; ignoring both", has_key ? kAccessKeyEnv : kSecretKeyEnv,
              has_key ? kSecretKeyEnv : kAccessKeyEnv);
  }
  if (env(kRelativeUriEnv)) {
    source_ = Source::ContainerRelative;
  } else if (env(kFullUriEnv)) {
    source_ = Source::ContainerFull;
  } else {
    throw CredentialsError(std::string("no AWS credentials found: set ") + kAccessKeyEnv + " and " + kSecretKeyEnv +
                           ", or run with a task role (" + kRelativeUriEnv + " or " + kFullUriEnv + ")");
  }
}

Credentials CredentialsProvider::fetch_locked(const signals::StopFlag* cancel) {
  resolve_source_locked();
  if (source_ == Source::Environment) {
    Credentials credentials;
    credentials.access_key_id = *options_.env(kAccessKeyEnv);
    credentials.secret_access_key = *options_.env(kSecretKeyEnv);
    credentials.session_token = options_.env(kSessionTokenEnv).value_or("");
    return credentials;
  }
  return fetch_container_locked(cancel);
}

Credentials CredentialsProvider::fetch_container_locked(const signals::StopFlag* cancel) {
  const auto& env = options_.env;
  http::Request request;
  request.method = "GET";
  request.timeout = options_.timeout;
  request.cancel = cancel;
  std::string origin;  // names the endpoint in errors: variable and host, never the path or token

  if (source_ == Source::ContainerRelative) {
    const std::string relative = *env(kRelativeUriEnv);
    std::string host(kContainerCredentialsHost);
    if (const auto override_host = env(std::string(kTestCredentialsHostEnv))) host = *override_host;
    request.url = "http://" + host + (relative.starts_with("/") ? "" : "/") + relative;
    origin = std::string(kRelativeUriEnv) + " at " + host;
  } else {
    request.url = *env(kFullUriEnv);
    UrlParts parts;
    try {
      parts = split_url(request.url);
    } catch (const std::invalid_argument&) {
      throw CredentialsError(std::string(kFullUriEnv) + " is not an absolute URL");
    }
    origin = std::string(kFullUriEnv) + " at " + parts.host;
    if (parts.scheme != "https" && !(parts.scheme == "http" && allowed_plain_http_host(host_only(parts.host)))) {
      throw CredentialsError(std::string(kFullUriEnv) +
                             " must use https, or http to a loopback or ECS/EKS agent address; got host " + parts.host);
    }
    std::optional<std::string> token;
    if (const auto token_file = env(kAuthTokenFileEnv)) {
      token = read_token_file(*token_file);
    } else {
      token = env(kAuthTokenEnv);
    }
    if (token) {
      if (token->find_first_of("\r\n") != std::string::npos) {
        throw CredentialsError(std::string("the container authorization token (") +
                               (env(kAuthTokenFileEnv) ? kAuthTokenFileEnv : kAuthTokenEnv) +
                               ") contains a line break");
      }
      request.headers.emplace_back("Authorization", *token);
    }
  }

  http::Response response;
  try {
    response = options_.transport(request);
  } catch (const http::TransportError& e) {
    throw CredentialsError("cannot reach the container credentials endpoint (" + origin +
                           "): " + transport_detail(e, request));
  }
  if (response.status != 200) {
    throw CredentialsError("container credentials endpoint (" + origin + ") returned HTTP " +
                           std::to_string(response.status) + error_body_summary(response.body));
  }
  try {
    return parse_container_credentials(response.body);
  } catch (const CredentialsError& e) {
    throw CredentialsError(std::string(e.what()) + " (" + origin + ")");
  }
}

std::string resolve_region(const std::optional<std::string>& config_region, std::string_view task_arn,
                           const EnvLookup& env) {
  if (config_region && !config_region->empty()) return *config_region;
  if (auto region = env("AWS_REGION")) return *region;
  if (auto region = env("AWS_DEFAULT_REGION")) return *region;
  // arn:partition:service:region:account:resource
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (fields.size() < 5) {
    const auto colon = task_arn.find(':', start);
    if (colon == std::string_view::npos) break;
    fields.push_back(task_arn.substr(start, colon - start));
    start = colon + 1;
  }
  if (fields.size() == 5 && fields[0] == "arn" && !fields[3].empty()) return std::string(fields[3]);
  throw std::runtime_error(
      "cannot determine the AWS region: no region configured, AWS_REGION and AWS_DEFAULT_REGION are unset, and the "
      "task ARN has no region" +
      (task_arn.empty() ? std::string() : " (" + std::string(task_arn) + ")"));
}

}  // namespace consulecs::aws
