// The aws-iam bearer token: byte-for-byte against tokens produced by
// hashicorp/consul-awsauth (Go, aws-sdk-go v1), plus a decode of every field
// and an independent signature check done with OpenSSL directly.
#include "consul/iam_bearer_token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "util/base64.h"

namespace consulecs::consul {
namespace {

using nlohmann::json;
using std::chrono::system_clock;

const std::filesystem::path kFixtures = std::filesystem::path(CONSUL_ECS_TESTDATA_DIR) / "consul-awsauth";
constexpr const char* kGoUserAgent = "aws-sdk-go/1.42.34 (go1.17.5; darwin; amd64)";

system_clock::time_point at(int year, unsigned month, unsigned day, int h, int m, int s) {
  return system_clock::time_point(std::chrono::sys_days(std::chrono::year(year) / month / day).time_since_epoch() +
                                  std::chrono::hours(h) + std::chrono::minutes(m) + std::chrono::seconds(s));
}

std::string read_fixture(const std::string& name) {
  std::ifstream in(kFixtures / name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  std::string text = out.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string b64d(const json& value) {
  const auto decoded = base64::decode(value.get<std::string>());
  if (!decoded) throw std::runtime_error("bad base64 in token");
  return *decoded;
}

struct DecodedToken {
  std::string method;
  std::string url;
  std::string body;
  std::string headers_json;
  json headers;  // {"Name": ["value"]}
};

DecodedToken decode(const std::string& token) {
  const json parsed = json::parse(token);
  std::set<std::string> keys;
  for (const auto& item : parsed.items()) keys.insert(item.key());
  EXPECT_EQ(keys, (std::set<std::string>{"iam_http_request_method", "iam_request_body", "iam_request_headers",
                                         "iam_request_url"}));
  DecodedToken out;
  out.method = parsed.at("iam_http_request_method").get<std::string>();
  out.url = b64d(parsed.at("iam_request_url"));
  out.body = b64d(parsed.at("iam_request_body"));
  out.headers_json = b64d(parsed.at("iam_request_headers"));
  out.headers = json::parse(out.headers_json);
  return out;
}

std::string single(const json& headers, const std::string& name) {
  const auto& values = headers.at(name);
  EXPECT_EQ(values.size(), 1u) << name;
  return values.at(0).get<std::string>();
}

// --- Independent SigV4 verification (OpenSSL only, no code under test) ---

std::string to_hex(const unsigned char* data, std::size_t size) {
  std::string out;
  char buffer[3];
  for (std::size_t i = 0; i < size; ++i) {
    std::snprintf(buffer, sizeof(buffer), "%02x", data[i]);
    out += buffer;
  }
  return out;
}

std::string sha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return to_hex(digest, length);
}

std::string hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

struct ParsedAuthorization {
  std::string access_key, date, region, service, signed_headers, signature;
};

ParsedAuthorization parse_authorization(const std::string& value) {
  // AWS4-HMAC-SHA256 Credential=AK/20220322/region/service/aws4_request, SignedHeaders=a;b, Signature=hex
  ParsedAuthorization out;
  const auto credential = value.find("Credential=") + 11;
  const auto comma = value.find(", SignedHeaders=");
  std::istringstream scope(value.substr(credential, comma - credential));
  std::getline(scope, out.access_key, '/');
  std::getline(scope, out.date, '/');
  std::getline(scope, out.region, '/');
  std::getline(scope, out.service, '/');
  const auto sig = value.find(", Signature=");
  out.signed_headers = value.substr(comma + 16, sig - comma - 16);
  out.signature = value.substr(sig + 12);
  return out;
}

// Recomputes the signature the way AWS does on receipt: from the URL, the
// body and the header values named in SignedHeaders.
std::string independent_signature(const std::string& secret, const std::string& url, const std::string& body,
                                   const json& headers) {
  const ParsedAuthorization auth = parse_authorization(single(headers, "Authorization"));
  const std::string amz_date = single(headers, "X-Amz-Date");
  const auto host_start = url.find("://") + 3;
  const auto path_start = url.find('/', host_start);
  const std::string host = url.substr(host_start, path_start - host_start);
  const std::string path = url.substr(path_start);

  std::string canonical_headers;
  std::istringstream names(auth.signed_headers);
  std::string name;
  while (std::getline(names, name, ';')) {
    std::string value;
    if (name == "host") {
      value = host;
    } else {
      for (const auto& item : headers.items()) {
        std::string lowered = item.key();
        for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lowered == name) value = item.value().at(0).get<std::string>();
      }
    }
    canonical_headers += name + ":" + value + "\n";
  }
  const std::string canonical = "POST\n" + path + "\n\n" + canonical_headers + "\n" + auth.signed_headers + "\n" + sha256(body);
  const std::string scope = auth.date + "/" + auth.region + "/" + auth.service + "/aws4_request";
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256(canonical);
  std::string key = hmac("AWS4" + secret, auth.date);
  key = hmac(key, auth.region);
  key = hmac(key, auth.service);
  key = hmac(key, "aws4_request");
  const std::string mac = hmac(key, to_sign);
  return to_hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

// --- Golden tokens produced by consul-awsauth (see testdata README) ---

TEST(IamBearerToken, MatchesConsulAwsauthTokenWithRoleByteForByte) {
  IamLoginParams params;
  params.creds.access_key_id = "fake-key-id";
  params.creds.secret_access_key = "fake-secret-key";
  params.region = "fake-region";
  params.sts_endpoint = "http://127.0.0.1:63696/sts";
  params.include_entity = true;
  params.role_name = "my-role";
  params.user_agent = kGoUserAgent;
  const std::string token = build_iam_bearer_token(params, at(2022, 3, 22, 22, 57, 42));
  EXPECT_EQ(token, read_fixture("bearer_token_with_role.json"));
}

TEST(IamBearerToken, MatchesConsulAwsauthTokenWithSessionToken) {
  IamLoginParams params;
  params.creds = {"fake", "fake", "fake", std::nullopt, ""};
  params.region = "us-east-1";
  params.sts_endpoint = "https://sts.amazonaws.com";  // the global endpoint older SDKs used
  params.user_agent = kGoUserAgent;
  const std::string token = build_iam_bearer_token(params, at(2022, 3, 22, 21, 11, 3));
  // The fixture is pretty-printed; every decoded field must be identical.
  const DecodedToken expected = decode(read_fixture("bearer_token.json"));
  const DecodedToken actual = decode(token);
  EXPECT_EQ(actual.method, expected.method);
  EXPECT_EQ(actual.url, expected.url);
  EXPECT_EQ(actual.body, expected.body);
  EXPECT_EQ(actual.headers_json, expected.headers_json);
}

// --- Every field, decoded ---

IamLoginParams full_params() {
  IamLoginParams params;
  params.creds = {"ASIAEXAMPLE", "secret/Key+value", "session-token-value", std::nullopt,
                  "arn:aws:iam::123456789012:role/ecs/my-task-role"};
  params.region = "us-west-2";
  params.server_id_header_value = "consul.example.com";
  params.include_entity = true;
  params.role_name = entity_name_from_arn(params.creds.role_arn);
  return params;
}

TEST(IamBearerToken, DecodesToTheSignedStsRequest) {
  const auto now = at(2024, 5, 6, 7, 8, 9);
  const DecodedToken token = decode(build_iam_bearer_token(full_params(), now));
  EXPECT_EQ(token.method, "POST");
  EXPECT_EQ(token.url, "https://sts.us-west-2.amazonaws.com/");
  EXPECT_EQ(token.body, "Action=GetCallerIdentity&Version=2011-06-15");

  std::set<std::string> names;
  for (const auto& item : token.headers.items()) names.insert(item.key());
  EXPECT_EQ(names, (std::set<std::string>{"Authorization", "Content-Length", "Content-Type", "User-Agent", "X-Amz-Date",
                                          "X-Amz-Security-Token", "X-Consul-Iam-Getentity-Body",
                                          "X-Consul-Iam-Getentity-Headers", "X-Consul-Iam-Getentity-Method",
                                          "X-Consul-Iam-Getentity-Url", "X-Consul-Iam-Serverid"}));
  EXPECT_EQ(single(token.headers, "Content-Length"), "43");
  EXPECT_EQ(single(token.headers, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(single(token.headers, "User-Agent"), "consul-ecs");
  EXPECT_EQ(single(token.headers, "X-Amz-Date"), "20240506T070809Z");
  EXPECT_EQ(single(token.headers, "X-Amz-Security-Token"), "session-token-value");
  EXPECT_EQ(single(token.headers, "X-Consul-Iam-Serverid"), "consul.example.com");
  EXPECT_EQ(single(token.headers, "X-Consul-Iam-Getentity-Method"), "POST");
  EXPECT_EQ(single(token.headers, "X-Consul-Iam-Getentity-Url"), "https://iam.amazonaws.com/");
  EXPECT_EQ(single(token.headers, "X-Consul-Iam-Getentity-Body"), "Action=GetRole&RoleName=my-task-role&Version=2010-05-08");
  // Go escapes '&' inside JSON strings.
  EXPECT_NE(token.headers_json.find(R"("Action=GetRole\u0026RoleName=my-task-role\u0026Version=2010-05-08")"),
            std::string::npos);

  const ParsedAuthorization auth = parse_authorization(single(token.headers, "Authorization"));
  EXPECT_EQ(auth.access_key, "ASIAEXAMPLE");
  EXPECT_EQ(auth.date, "20240506");
  EXPECT_EQ(auth.region, "us-west-2");
  EXPECT_EQ(auth.service, "sts");
  // The server ID and the embedded GetEntity request are covered by the signature.
  EXPECT_EQ(auth.signed_headers,
            "content-length;content-type;host;x-amz-date;x-amz-security-token;x-consul-iam-getentity-body;"
            "x-consul-iam-getentity-headers;x-consul-iam-getentity-method;x-consul-iam-getentity-url;"
            "x-consul-iam-serverid");
  EXPECT_EQ(auth.signature, independent_signature("secret/Key+value", token.url, token.body, token.headers));

  // The secret key itself never appears.
  EXPECT_EQ(token.headers_json.find("secret/Key+value"), std::string::npos);
}

TEST(IamBearerToken, EmbeddedGetRoleRequestIsSignedForIamInUsEast1) {
  const DecodedToken token = decode(build_iam_bearer_token(full_params(), at(2024, 5, 6, 7, 8, 9)));
  const json entity_headers = json::parse(single(token.headers, "X-Consul-Iam-Getentity-Headers"));
  std::set<std::string> names;
  for (const auto& item : entity_headers.items()) names.insert(item.key());
  EXPECT_EQ(names, (std::set<std::string>{"Authorization", "Content-Length", "Content-Type", "User-Agent", "X-Amz-Date",
                                          "X-Amz-Security-Token", "X-Consul-Iam-Serverid"}));
  EXPECT_EQ(single(entity_headers, "Content-Length"),
            std::to_string(single(token.headers, "X-Consul-Iam-Getentity-Body").size()));
  EXPECT_EQ(single(entity_headers, "X-Consul-Iam-Serverid"), "consul.example.com");
  const ParsedAuthorization auth = parse_authorization(single(entity_headers, "Authorization"));
  EXPECT_EQ(auth.region, "us-east-1");
  EXPECT_EQ(auth.service, "iam");
  EXPECT_EQ(auth.signed_headers,
            "content-length;content-type;host;x-amz-date;x-amz-security-token;x-consul-iam-serverid");
  EXPECT_EQ(auth.signature, independent_signature("secret/Key+value", single(token.headers, "X-Consul-Iam-Getentity-Url"),
                                                  single(token.headers, "X-Consul-Iam-Getentity-Body"), entity_headers));
}

TEST(IamBearerToken, WithoutEntityOrServerId) {
  IamLoginParams params = full_params();
  params.include_entity = false;
  params.server_id_header_value.clear();
  params.sts_endpoint = "sts.example.internal:8443/";
  const DecodedToken token = decode(build_iam_bearer_token(params, at(2024, 5, 6, 7, 8, 9)));
  EXPECT_EQ(token.url, "https://sts.example.internal:8443/");
  std::set<std::string> names;
  for (const auto& item : token.headers.items()) names.insert(item.key());
  EXPECT_EQ(names, (std::set<std::string>{"Authorization", "Content-Length", "Content-Type", "User-Agent", "X-Amz-Date",
                                          "X-Amz-Security-Token"}));
  const ParsedAuthorization auth = parse_authorization(single(token.headers, "Authorization"));
  EXPECT_EQ(auth.region, "us-west-2");  // the configured region, also with a custom endpoint
  EXPECT_EQ(auth.signature, independent_signature("secret/Key+value", token.url, token.body, token.headers));
}

TEST(IamBearerToken, GetUserForIamUsersAndEscapedNames) {
  IamLoginParams params = full_params();
  params.role_name.clear();
  params.user_name = "bob smith+ops";
  params.iam_endpoint = "http://127.0.0.1:9000/iam";
  const DecodedToken token = decode(build_iam_bearer_token(params, at(2024, 5, 6, 7, 8, 9)));
  EXPECT_EQ(single(token.headers, "X-Consul-Iam-Getentity-Body"),
            "Action=GetUser&UserName=bob+smith%2Bops&Version=2010-05-08");
  EXPECT_EQ(single(token.headers, "X-Consul-Iam-Getentity-Url"), "http://127.0.0.1:9000/iam/");
}

TEST(IamBearerToken, RejectsIncompleteInput) {
  IamLoginParams params = full_params();
  params.region.clear();
  EXPECT_THROW(build_iam_bearer_token(params, system_clock::now()), std::invalid_argument);
  params = full_params();
  params.role_name.clear();
  EXPECT_THROW(build_iam_bearer_token(params, system_clock::now()), std::invalid_argument);
  params = full_params();
  params.user_name = "also-a-user";
  EXPECT_THROW(build_iam_bearer_token(params, system_clock::now()), std::invalid_argument);
  params = full_params();
  params.creds.secret_access_key.clear();
  EXPECT_THROW(build_iam_bearer_token(params, system_clock::now()), std::invalid_argument);
}

TEST(IamBearerToken, EntityNameFromArn) {
  bool is_user = true;
  EXPECT_EQ(entity_name_from_arn("arn:aws:iam::123456789012:role/path/to/my-role", &is_user), "my-role");
  EXPECT_FALSE(is_user);
  EXPECT_EQ(entity_name_from_arn("arn:aws:sts::123456789012:assumed-role/my-role/1a2b3c", &is_user), "my-role");
  EXPECT_FALSE(is_user);
  EXPECT_EQ(entity_name_from_arn("arn:aws:iam::123456789012:user/alice", &is_user), "alice");
  EXPECT_TRUE(is_user);
  EXPECT_THROW(entity_name_from_arn("arn:aws:ecs:us-east-1:1:task/c/t"), std::invalid_argument);
}

TEST(IamBearerToken, GoHeaderHelpers) {
  EXPECT_EQ(go_canonical_header_key("x-consul-iam-serverid"), "X-Consul-Iam-Serverid");
  EXPECT_EQ(go_canonical_header_key("X-Consul-IAM-GetEntity-URL"), "X-Consul-Iam-Getentity-Url");
  EXPECT_EQ(go_canonical_header_key("content-type"), "Content-Type");
  EXPECT_EQ(go_canonical_header_key("bad header"), "bad header");  // invalid names are left alone
  EXPECT_EQ(go_header_json({{"b", "2"}, {"Host", "h"}, {"a", "1"}, {"A", "3"}, {"x", "<&>"}}),
            R"({"A":["1","3"],"B":["2"],"X":["\u003c\u0026\u003e"]})");
  EXPECT_EQ(go_query_escape("a b+c/d~e"), "a+b%2Bc%2Fd~e");
}

}  // namespace
}  // namespace consulecs::consul
