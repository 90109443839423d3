#pragma once
// STS/IAM endpoints, IAM principal ARNs, and sts:GetCallerIdentity.
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

#include "aws/sigv4.h"
#include "aws/transport.h"

namespace consulecs::aws {

inline constexpr std::string_view kFormContentType = "application/x-www-form-urlencoded; charset=utf-8";
inline constexpr std::string_view kGetCallerIdentityBody = "Action=GetCallerIdentity&Version=2011-06-15";

// Regional STS endpoint, as aws-sdk-go resolves it with regional STS
// endpoints enabled: https://sts.<region>.amazonaws.com (".com.cn" in China).
std::string default_sts_endpoint(std::string_view region);

// IAM is global per partition; aws-sdk-go signs for the partition's global
// region.
struct IamEndpoint {
  std::string url;
  std::string signing_region;
};
IamEndpoint default_iam_endpoint(std::string_view region);

// A configured endpoint as aws-sdk-go uses it: "https://" is prefixed when
// there is no scheme. Trailing slashes are dropped so that appending the
// operation path "/" never yields "//".
std::string normalize_endpoint(std::string_view endpoint);

// Fields of an IAM principal ARN, as consul-awsauth's responses.ParseArn:
//   arn:aws:iam::<account>:role/<path>/<name>     -> type "role"
//   arn:aws:iam::<account>:user/<path>/<name>     -> type "user"
//   arn:aws:sts::<account>:assumed-role/<name>/<session> -> type "assumed-role"
struct PrincipalArn {
  std::string partition;
  std::string account;
  std::string type;
  std::string path;
  std::string friendly_name;  // role or user name
  std::string session_info;
};
// Throws std::invalid_argument for anything else.
PrincipalArn parse_principal_arn(std::string_view arn);

class StsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Calls sts:GetCallerIdentity and returns the caller's ARN. `sts_endpoint`
// empty means default_sts_endpoint(region). Throws StsError.
std::string get_caller_identity_arn(const Credentials& credentials, std::string_view region,
                                    std::string_view sts_endpoint, const Transport& transport,
                                    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace consulecs::aws
