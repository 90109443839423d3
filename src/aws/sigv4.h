#pragma once
// AWS Signature Version 4 (header-based signing) for non-S3 services.
//
// URL paths are normalized (dot segments and repeated slashes removed) and
// percent-encoded once, byte by byte: a path handed over in its wire form
// (already encoded) thus ends up encoded twice, as AWS requires for every
// service but S3. S3 signing (no normalization, single encoding) is not
// supported.
#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace consulecs::aws {

// Secret-bearing: never log the secret key or the session token.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  std::optional<std::chrono::system_clock::time_point> expiration;
  std::string role_arn;  // ARN of the role behind the keys, when the source tells it
};

struct SigningRequest {
  std::string method;
  std::string url;  // absolute URL including any query string
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct SigningResult {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // e.g. "host;x-amz-date"
  std::string signature;       // lowercase hex
  std::string authorization;   // value of the Authorization header
};

// Signs `request` in place: sets X-Amz-Date (and X-Amz-Security-Token when the
// credentials carry a session token), adds a Host header taken from the URL
// when none is present, then appends the Authorization header (replacing any
// earlier one). Every header except Authorization, User-Agent and
// X-Amzn-Trace-Id is signed, as aws-sdk-go does.
SigningResult sign(SigningRequest& request, const Credentials& credentials, std::string_view region,
                   std::string_view service, std::chrono::system_clock::time_point now);

// --- The individual steps, exposed for tests and diagnostics. ---

struct CanonicalRequest {
  std::string text;
  std::string signed_headers;
};

// Canonical request of `request` as it stands (no headers are added). The
// payload hash is the X-Amz-Content-Sha256 header value when present, else
// the SHA-256 of the body.
CanonicalRequest canonical_request(const SigningRequest& request);

std::string canonical_uri(std::string_view path);
std::string canonical_query(std::string_view raw_query);
std::string amz_date(std::chrono::system_clock::time_point time);  // 20150830T123600Z
std::string credential_scope(std::string_view amz_date, std::string_view region, std::string_view service);
std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request);
std::array<unsigned char, 32> signing_key(std::string_view secret_access_key, std::string_view date,
                                          std::string_view region, std::string_view service);
std::string signature(const std::array<unsigned char, 32>& key, std::string_view string_to_sign);

// Crypto helpers (OpenSSL).
std::string sha256_hex(std::string_view data);
std::array<unsigned char, 32> hmac_sha256(std::string_view key, std::string_view data);
std::string hex(const unsigned char* data, std::size_t size);

// Parts of an absolute URL, as the signer sees them.
struct UrlParts {
  std::string scheme;
  std::string host;   // authority without user info; default port (80/443) dropped
  std::string path;   // "/" when the URL has none
  std::string query;  // without '?'
};
// Throws std::invalid_argument when `url` is not absolute (scheme://host...).
UrlParts split_url(std::string_view url);

}  // namespace consulecs::aws
