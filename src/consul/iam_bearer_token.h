#pragma once
// Bearer token for Consul's aws-iam auth method, built exactly as
// hashicorp/consul-awsauth GenerateLoginData (aws-sdk-go v1) builds it:
//
//   {"iam_http_request_method":"POST",
//    "iam_request_body":    base64("Action=GetCallerIdentity&Version=2011-06-15"),
//    "iam_request_headers": base64(json(http.Header of the signed request)),
//    "iam_request_url":     base64("https://sts.<region>.amazonaws.com/")}
//
// The STS request carries Content-Type and Content-Length (both signed) and
// a User-Agent (unsigned). When a server ID value is given, the header
// X-Consul-IAM-ServerID is added before signing, so it is signed. With
// include_entity, an iam:GetRole (or iam:GetUser) request is signed as well
// (it also carries the server ID header) and embedded, before the STS request
// is signed, in the STS request headers X-Consul-IAM-GetEntity-Method, -URL,
// -Headers (json of its http.Header) and -Body. Header names appear in
// Go's canonical form (X-Consul-Iam-Serverid), keys sorted, and the JSON is
// escaped as Go's encoding/json does (e.g. '&' as \u0026).
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aws/sigv4.h"

namespace consulecs::consul {

inline constexpr std::string_view kIamServerIdHeader = "X-Consul-IAM-ServerID";
inline constexpr std::string_view kGetEntityMethodHeader = "X-Consul-IAM-GetEntity-Method";
inline constexpr std::string_view kGetEntityUrlHeader = "X-Consul-IAM-GetEntity-URL";
inline constexpr std::string_view kGetEntityHeadersHeader = "X-Consul-IAM-GetEntity-Headers";
inline constexpr std::string_view kGetEntityBodyHeader = "X-Consul-IAM-GetEntity-Body";
inline constexpr std::string_view kDefaultIamUserAgent = "consul-ecs";

struct IamLoginParams {
  aws::Credentials creds;
  std::string region;                  // STS signing region; required
  std::string sts_endpoint;            // empty: https://sts.<region>.amazonaws.com
  std::string iam_endpoint;            // empty: the partition's global IAM endpoint
  std::string server_id_header_value;  // empty: no X-Consul-IAM-ServerID header
  bool include_entity = false;
  // The IAM entity for include_entity: exactly one must be set. For an ECS
  // task role use entity_name_from_arn(creds.role_arn).
  std::string role_name;
  std::string user_name;
  std::string user_agent = std::string(kDefaultIamUserAgent);
};

// Throws std::invalid_argument for missing inputs. Never logs the token.
std::string build_iam_bearer_token(const IamLoginParams& params, std::chrono::system_clock::time_point now);

// The role or user name to put in the GetEntity request for a principal ARN
// (role, assumed-role or user), as consul-awsauth derives it from
// GetCallerIdentity. Sets *is_user for user ARNs. Throws std::invalid_argument.
std::string entity_name_from_arn(std::string_view arn, bool* is_user = nullptr);

// Go's textproto.CanonicalMIMEHeaderKey ("x-consul-iam-serverid" ->
// "X-Consul-Iam-Serverid"); names with bytes that are not valid in a header
// name are returned unchanged, as Go does.
std::string go_canonical_header_key(std::string_view name);

// Go's http.Header of a request's header list (canonical keys, values in
// order; Host is not a header in Go) and its json.Marshal text.
std::map<std::string, std::vector<std::string>> go_header_map(
    const std::vector<std::pair<std::string, std::string>>& headers);
std::string go_header_json(const std::vector<std::pair<std::string, std::string>>& headers);

// Go's url.QueryEscape (space as '+').
std::string go_query_escape(std::string_view value);

}  // namespace consulecs::consul
