// libFuzzer target: the ECS container credentials answer
// (AWS_CONTAINER_CREDENTIALS_*_URI). CredentialsError / util::JsonParseError
// are the expected answers to bad input; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aws/credentials.h"
#include "util/json_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const consulecs::aws::Credentials credentials = consulecs::aws::parse_container_credentials(text);
    (void)credentials.access_key_id.size();
  } catch (const consulecs::aws::CredentialsError&) {
  } catch (const consulecs::util::JsonParseError&) {
  }
  return 0;
}
