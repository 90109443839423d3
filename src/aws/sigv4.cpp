#include "aws/sigv4.h"

#include "http/client.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <stdexcept>

namespace consulecs::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string percent_encode(std::string_view in, bool keep_slash) { return http::url_encode(in, keep_slash ? "/" : ""); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; a '%' not followed by two hex digits stays literal.
// '+' is a literal plus (RFC 3986), not a space.
std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Trims leading/trailing blanks and collapses inner runs of blanks to one space.
std::string trim_all(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (is_blank(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool is_unsigned_header(std::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "user-agent" || lower_name == "x-amzn-trace-id";
}

void set_header(SigningRequest& request, std::string_view name, std::string value) {
  auto& headers = request.headers;
  auto first = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
  if (first == headers.end()) {
    headers.emplace_back(std::string(name), std::move(value));
    return;
  }
  first->second = std::move(value);
  headers.erase(std::remove_if(std::next(first), headers.end(), [&](const auto& h) { return iequals(h.first, name); }),
                headers.end());
}

}  // namespace

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0xF]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 computation failed");
  }
  return hex(digest, length);
}

std::array<unsigned char, 32> hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out.data(), &length) == nullptr ||
      length != out.size()) {
    throw std::runtime_error("HMAC-SHA256 computation failed");
  }
  return out;
}

UrlParts split_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    throw std::invalid_argument("not an absolute URL: " + std::string(url));
  }
  UrlParts parts;
  parts.scheme = lower(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);

  const auto authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  if (authority.empty()) throw std::invalid_argument("URL has no host: " + std::string(url));
  // Like aws-sdk-go, the Host header carries no default port.
  const std::string_view default_port = parts.scheme == "https" ? ":443" : parts.scheme == "http" ? ":80" : "";
  if (!default_port.empty() && authority.size() > default_port.size() && authority.ends_with(default_port)) {
    authority.remove_suffix(default_port.size());
  }
  parts.host = std::string(authority);

  const auto question = rest.find('?');
  parts.path = std::string(rest.substr(0, question));
  if (question != std::string_view::npos) parts.query = std::string(rest.substr(question + 1));
  if (parts.path.empty()) parts.path = "/";
  return parts;
}

std::string canonical_uri(std::string_view path) {
  // Non-S3 normalization: drop empty and "." segments, resolve "..".
  std::vector<std::string_view> segments;
  bool ends_in_directory = path.empty() || path.back() == '/';
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    if (slash == std::string_view::npos) {
      if (segment == "." || segment == "..") ends_in_directory = true;
      break;
    }
    start = slash + 1;
  }
  std::string normalized = "/";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) normalized.push_back('/');
    normalized.append(segments[i]);
  }
  if (!segments.empty() && ends_in_directory) normalized.push_back('/');
  return percent_encode(normalized, /*keep_slash=*/true);
}

std::string canonical_query(std::string_view raw_query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start <= raw_query.size()) {
    const auto amp = raw_query.find('&', start);
    const auto end = amp == std::string_view::npos ? raw_query.size() : amp;
    const std::string_view piece = raw_query.substr(start, end - start);
    if (!piece.empty()) {
      const auto eq = piece.find('=');
      const std::string_view key = piece.substr(0, eq);
      const std::string_view value = eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
      params.emplace_back(percent_encode(percent_decode(key), false), percent_encode(percent_decode(value), false));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out.push_back('&');
    out.append(key).append("=").append(value);
  }
  return out;
}

CanonicalRequest canonical_request(const SigningRequest& request) {
  const UrlParts url = split_url(request.url);

  std::map<std::string, std::vector<std::string>> headers;
  std::optional<std::string> payload_hash;
  for (const auto& [name, value] : request.headers) {
    std::string key = lower(name);
    if (key == "x-amz-content-sha256") payload_hash = trim_all(value);
    if (is_unsigned_header(key)) continue;
    headers[std::move(key)].push_back(trim_all(value));
  }
  if (!headers.contains("host")) headers["host"].push_back(url.host);

  CanonicalRequest out;
  std::string canonical_headers;
  for (const auto& [name, values] : headers) {
    canonical_headers.append(name).push_back(':');
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) canonical_headers.push_back(',');
      canonical_headers.append(values[i]);
    }
    canonical_headers.push_back('\n');
    if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
    out.signed_headers.append(name);
  }

  out.text = request.method;
  out.text.append("\n")
      .append(canonical_uri(url.path))
      .append("\n")
      .append(canonical_query(url.query))
      .append("\n")
      .append(canonical_headers)
      .append("\n")
      .append(out.signed_headers)
      .append("\n")
      .append(payload_hash ? *payload_hash : sha256_hex(request.body));
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  const auto length = std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buffer, length);
}

std::string credential_scope(std::string_view amz_date, std::string_view region, std::string_view service) {
  std::string scope(amz_date.substr(0, 8));
  scope.append("/").append(region).append("/").append(service).append("/aws4_request");
  return scope;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out.append("\n").append(amz_date).append("\n").append(scope).append("\n").append(sha256_hex(canonical_request));
  return out;
}

std::array<unsigned char, 32> signing_key(std::string_view secret_access_key, std::string_view date,
                                          std::string_view region, std::string_view service) {
  auto as_view = [](const std::array<unsigned char, 32>& k) {
    return std::string_view(reinterpret_cast<const char*>(k.data()), k.size());
  };
  const std::string initial = "AWS4" + std::string(secret_access_key);
  const auto k_date = hmac_sha256(initial, date);
  const auto k_region = hmac_sha256(as_view(k_date), region);
  const auto k_service = hmac_sha256(as_view(k_region), service);
  return hmac_sha256(as_view(k_service), "aws4_request");
}

std::string signature(const std::array<unsigned char, 32>& key, std::string_view string_to_sign) {
  const auto mac = hmac_sha256(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()), string_to_sign);
  return hex(mac.data(), mac.size());
}

SigningResult sign(SigningRequest& request, const Credentials& credentials, std::string_view region,
                   std::string_view service, std::chrono::system_clock::time_point now) {
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    throw std::invalid_argument("cannot sign: the AWS credentials have no access key id or secret access key");
  }
  if (region.empty() || service.empty()) throw std::invalid_argument("cannot sign: region and service are required");

  auto& headers = request.headers;
  headers.erase(
      std::remove_if(headers.begin(), headers.end(), [](const auto& h) { return iequals(h.first, "Authorization"); }),
      headers.end());
  const bool has_host = std::any_of(headers.begin(), headers.end(),
                                    [](const auto& h) { return iequals(h.first, "Host"); });
  if (!has_host) headers.insert(headers.begin(), {"Host", split_url(request.url).host});

  const std::string date = amz_date(now);
  set_header(request, "X-Amz-Date", date);
  if (!credentials.session_token.empty()) set_header(request, "X-Amz-Security-Token", credentials.session_token);

  SigningResult result;
  CanonicalRequest canonical = canonical_request(request);
  result.canonical_request = std::move(canonical.text);
  result.signed_headers = std::move(canonical.signed_headers);
  const std::string scope = credential_scope(date, region, service);
  result.string_to_sign = string_to_sign(date, scope, result.canonical_request);
  result.signature = signature(signing_key(credentials.secret_access_key, date.substr(0, 8), region, service),
                               result.string_to_sign);
  result.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" + scope +
                         ", SignedHeaders=" + result.signed_headers + ", Signature=" + result.signature;
  headers.emplace_back("Authorization", result.authorization);
  return result;
}

}  // namespace consulecs::aws
