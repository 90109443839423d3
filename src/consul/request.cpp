#include "consul/request.h"

#include "http/client.h"

namespace consulecs::consul {

std::string with_query(std::string path, const QueryParams& params) {
  char separator = path.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    path += separator;
    path += key;
    path += '=';
    path += http::url_encode(value);
    separator = '&';
  }
  return path;
}

std::string path_segment(std::string_view segment) { return http::url_encode(segment, ":/@"); }

}  // namespace consulecs::consul
