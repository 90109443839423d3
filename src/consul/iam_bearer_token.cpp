#include "consul/iam_bearer_token.h"

#include "http/client.h"

#include <stdexcept>

#include "aws/sts.h"
#include "util/base64.h"
#include "util/go_json.h"

namespace consulecs::consul {
namespace {

// RFC 7230 token characters, as Go's validHeaderFieldByte.
bool is_token_char(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// An aws-sdk-go query-protocol request: form body, Content-Type and
// User-Agent set at build time, Content-Length set just before signing.
aws::SigningRequest query_request(std::string url, std::string body, const std::string& user_agent) {
  aws::SigningRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.body = std::move(body);
  request.headers = {{"User-Agent", user_agent}, {"Content-Type", std::string(aws::kFormContentType)}};
  return request;
}

void sign_query_request(aws::SigningRequest& request, const aws::Credentials& creds, std::string_view region,
                        std::string_view service, std::chrono::system_clock::time_point now) {
  request.headers.emplace_back("Content-Length", std::to_string(request.body.size()));
  aws::sign(request, creds, region, service, now);
}

}  // namespace

std::string go_canonical_header_key(std::string_view name) {
  for (unsigned char c : name) {
    if (!is_token_char(c)) return std::string(name);
  }
  std::string out(name);
  bool upper = true;
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (!upper && c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    upper = c == '-';
  }
  return out;
}

std::map<std::string, std::vector<std::string>> go_header_map(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, value] : headers) {
    std::string key = go_canonical_header_key(name);
    if (key == "Host") continue;
    out[std::move(key)].push_back(value);
  }
  return out;
}

std::string go_header_json(const std::vector<std::pair<std::string, std::string>>& headers) {
  return gojson::marshal(go_header_map(headers));
}

std::string go_query_escape(std::string_view value) {
  // Go's url.QueryEscape: RFC 3986 escaping, but a space becomes '+'.
  const std::string encoded = http::url_encode(value);
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded.compare(i, 3, "%20") == 0) {
      out.push_back('+');
      i += 2;
    } else {
      out.push_back(encoded[i]);
    }
  }
  return out;
}

std::string entity_name_from_arn(std::string_view arn, bool* is_user) {
  const aws::PrincipalArn parsed = aws::parse_principal_arn(arn);
  if (is_user) *is_user = parsed.type == "user";
  return parsed.friendly_name;
}

std::string build_iam_bearer_token(const IamLoginParams& params, std::chrono::system_clock::time_point now) {
  if (params.region.empty()) throw std::invalid_argument("aws-iam login: the AWS region is required");
  if (params.creds.access_key_id.empty() || params.creds.secret_access_key.empty()) {
    throw std::invalid_argument("aws-iam login: AWS credentials are required");
  }

  const std::string sts_url =
      (params.sts_endpoint.empty() ? aws::default_sts_endpoint(params.region)
                                   : aws::normalize_endpoint(params.sts_endpoint)) +
      "/";
  aws::SigningRequest sts = query_request(sts_url, std::string(aws::kGetCallerIdentityBody), params.user_agent);

  if (params.include_entity) {
    if (params.role_name.empty() == params.user_name.empty()) {
      throw std::invalid_argument("aws-iam login: include_entity needs exactly one of a role name or a user name");
    }
    const aws::IamEndpoint iam = aws::default_iam_endpoint(params.region);
    const std::string iam_url = (params.iam_endpoint.empty() ? iam.url : aws::normalize_endpoint(params.iam_endpoint)) + "/";
    // url.Values.Encode order: Action, RoleName|UserName, Version.
    const std::string body = params.role_name.empty()
                                 ? "Action=GetUser&UserName=" + go_query_escape(params.user_name) + "&Version=2010-05-08"
                                 : "Action=GetRole&RoleName=" + go_query_escape(params.role_name) + "&Version=2010-05-08";
    aws::SigningRequest entity = query_request(iam_url, body, params.user_agent);
    if (!params.server_id_header_value.empty()) {
      entity.headers.emplace_back(kIamServerIdHeader, params.server_id_header_value);
    }
    sign_query_request(entity, params.creds, iam.signing_region, "iam", now);

    sts.headers.emplace_back(kGetEntityMethodHeader, entity.method);
    sts.headers.emplace_back(kGetEntityUrlHeader, entity.url);
    sts.headers.emplace_back(kGetEntityHeadersHeader, go_header_json(entity.headers));
    sts.headers.emplace_back(kGetEntityBodyHeader, entity.body);
  }
  if (!params.server_id_header_value.empty()) {
    sts.headers.emplace_back(kIamServerIdHeader, params.server_id_header_value);
  }
  sign_query_request(sts, params.creds, params.region, "sts", now);

  return gojson::marshal(std::map<std::string, std::string>{
      {"iam_http_request_method", sts.method},
      {"iam_request_body", base64::encode(sts.body)},
      {"iam_request_headers", base64::encode(go_header_json(sts.headers))},
      {"iam_request_url", base64::encode(sts.url)},
  });
}

}  // namespace consulecs::consul
