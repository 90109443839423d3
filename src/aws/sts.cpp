#include "aws/sts.h"

#include <optional>
#include <vector>

namespace consulecs::aws {
namespace {

std::string dns_suffix(std::string_view region) {
  return region.starts_with("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto pos = text.find(separator, start);
    parts.push_back(text.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

std::string xml_unescape(std::string_view text) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    bool replaced = false;
    if (text[i] == '&') {
      for (const auto& [entity, c] : kEntities) {
        if (text.substr(i).starts_with(entity)) {
          out.push_back(c);
          i += entity.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(text[i++]);
  }
  return out;
}

// Text of the first <tag>...</tag> element, unescaped; nullopt when absent.
std::optional<std::string> xml_element(std::string_view xml, std::string_view tag) {
  // Built with append, not `"<" + std::string(tag)`: g++ 12 at -O3 reports a
  // false -Werror=restrict for that operator+ (GCC bug 105329).
  std::string open;
  open.append("<").append(tag).append(">");
  std::string close;
  close.append("</").append(tag).append(">");
  const auto begin = xml.find(open);
  if (begin == std::string_view::npos) return std::nullopt;
  const auto end = xml.find(close, begin + open.size());
  if (end == std::string_view::npos) return std::nullopt;
  return xml_unescape(xml.substr(begin + open.size(), end - begin - open.size()));
}

}  // namespace

std::string default_sts_endpoint(std::string_view region) {
  return "https://sts." + std::string(region) + "." + dns_suffix(region);
}

IamEndpoint default_iam_endpoint(std::string_view region) {
  if (region.starts_with("cn-")) return {"https://iam.cn-north-1.amazonaws.com.cn", "cn-north-1"};
  if (region.starts_with("us-gov-")) return {"https://iam.us-gov.amazonaws.com", "us-gov-west-1"};
  return {"https://iam.amazonaws.com", "us-east-1"};
}

std::string normalize_endpoint(std::string_view endpoint) {
  std::string out(endpoint);
  if (out.find("://") == std::string::npos) out = "https://" + out;
  while (out.ends_with("/")) out.pop_back();
  return out;
}

PrincipalArn parse_principal_arn(std::string_view arn) {
  const auto fail = [&](const std::string& why) {
    return std::invalid_argument("unrecognized IAM principal ARN \"" + std::string(arn) + "\": " + why);
  };
  const auto fields = split(arn, ':');
  if (fields.size() != 6) throw fail("expected 6 colon-separated parts");
  if (fields[0] != "arn") throw fail("does not begin with \"arn:\"");
  if (fields[1].empty()) throw fail("missing partition");
  if (fields[2] != "iam" && fields[2] != "sts") throw fail("service is not iam or sts");
  if (fields[4].empty()) throw fail("missing account number");

  PrincipalArn out;
  out.partition = std::string(fields[1]);
  out.account = std::string(fields[4]);
  const auto parts = split(fields[5], '/');
  if (parts.size() < 2) throw fail("fewer than 2 slash-separated parts in the resource");
  out.type = std::string(parts[0]);
  out.friendly_name = std::string(parts.back());
  for (std::size_t i = 1; i + 1 < parts.size(); ++i) {
    if (i > 1) out.path.push_back('/');
    out.path.append(parts[i]);
  }
  if (out.type == "assumed-role") {
    if (parts.size() < 3) throw fail("assumed-role ARN without a session name");
    out.path.clear();
    out.friendly_name = std::string(parts[1]);
    out.session_info = std::string(parts[2]);
  } else if (out.type != "role" && out.type != "user") {
    throw fail("principal type \"" + out.type + "\" is not role, assumed-role or user");
  }
  if (out.friendly_name.empty()) throw fail("missing the resource name");
  return out;
}

std::string get_caller_identity_arn(const Credentials& credentials, std::string_view region,
                                    std::string_view sts_endpoint, const Transport& transport,
                                    std::chrono::system_clock::time_point now) {
  SigningRequest signing;
  signing.method = "POST";
  signing.url = (sts_endpoint.empty() ? default_sts_endpoint(region) : normalize_endpoint(sts_endpoint)) + "/";
  signing.body = std::string(kGetCallerIdentityBody);
  signing.headers = {{"Content-Type", std::string(kFormContentType)},
                     {"Content-Length", std::to_string(signing.body.size())}};
  sign(signing, credentials, region, "sts", now);

  http::Request request;
  request.method = signing.method;
  request.url = signing.url;
  request.headers = signing.headers;
  request.body = signing.body;
  http::Response response;
  try {
    response = transport(request);
  } catch (const http::TransportError& e) {
    throw StsError(std::string("sts:GetCallerIdentity failed: ") + e.what());
  }
  if (response.status != 200) {
    std::string detail;
    if (const auto code = xml_element(response.body, "Code")) detail = *code;
    if (const auto message = xml_element(response.body, "Message")) detail += (detail.empty() ? "" : ": ") + *message;
    throw StsError("sts:GetCallerIdentity returned HTTP " + std::to_string(response.status) +
                   (detail.empty() ? "" : " (" + detail + ")"));
  }
  auto arn = xml_element(response.body, "Arn");
  if (!arn || arn->empty()) throw StsError("sts:GetCallerIdentity response has no Arn");
  return *arn;
}

}  // namespace consulecs::aws
