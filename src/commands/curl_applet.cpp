#include "commands/curl_applet.h"

#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "build_info.h"

namespace consulecs::commands {
namespace {

constexpr int kExitBadUsage = 2;  // curl's CURLE_FAILED_INIT for command-line errors

bool parse_seconds(const std::string& text, double& seconds) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  seconds = std::strtod(text.c_str(), &end);
  return errno == 0 && end != nullptr && *end == '\0' && seconds >= 0;
}

size_t write_out(char* data, size_t size, size_t count, void* stream) {
  return std::fwrite(data, size, count, static_cast<FILE*>(stream)) * size;
}

}  // namespace

bool invoked_as_curl(const char* argv0) {
  if (argv0 == nullptr) return false;
  std::string_view name(argv0);
  const size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  return name == "curl";
}

std::optional<CurlOptions> parse_curl_args(const Args& args, std::string& error) {
  CurlOptions options;
  bool urls_only = false;
  auto take_value = [&](size_t& i, const std::string& flag, std::string& value) {
    if (i + 1 >= args.size()) {
      error = "option " + flag + ": requires parameter";
      return false;
    }
    value = args[++i];
    return true;
  };
  auto take_seconds = [&](size_t& i, const std::string& flag, std::optional<double>& target) {
    std::string value;
    if (!take_value(i, flag, value)) return false;
    double seconds = 0;
    if (!parse_seconds(value, seconds)) {
      error = "option " + flag + ": expected a proper numerical parameter";
      return false;
    }
    target = seconds;
    return true;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (urls_only || arg.empty() || arg[0] != '-' || arg == "-") {
      if (!options.url.empty()) {
        error = "only one URL is supported (this is consul-ecs's curl: plain-HTTP GET)";
        return std::nullopt;
      }
      options.url = arg;
      continue;
    }
    if (arg == "--") {
      urls_only = true;
    } else if (arg == "--version" || arg == "-V") {
      options.version = true;
    } else if (arg == "--fail") {
      options.fail = true;
    } else if (arg == "--silent") {
      options.silent = true;
    } else if (arg == "--show-error") {
      options.show_error = true;
    } else if (arg == "--output") {
      if (!take_value(i, arg, options.output)) return std::nullopt;
    } else if (arg == "--max-time") {
      if (!take_seconds(i, arg, options.max_time)) return std::nullopt;
    } else if (arg == "--connect-timeout") {
      if (!take_seconds(i, arg, options.connect_timeout)) return std::nullopt;
    } else if (arg.size() > 1 && arg[1] != '-') {
      // Short flags, combinable (-fsS); a flag taking a value ends the group
      // and takes the rest of it or the next argument (-o FILE, -oFILE).
      for (size_t j = 1; j < arg.size(); ++j) {
        const char flag = arg[j];
        if (flag == 'f') {
          options.fail = true;
        } else if (flag == 's') {
          options.silent = true;
        } else if (flag == 'S') {
          options.show_error = true;
        } else if (flag == 'o' || flag == 'm') {
          const std::string name = std::string("-") + flag;
          std::string value;
          if (j + 1 < arg.size()) {
            value = arg.substr(j + 1);
          } else if (!take_value(i, name, value)) {
            return std::nullopt;
          }
          if (flag == 'o') {
            options.output = value;
          } else {
            double seconds = 0;
            if (!parse_seconds(value, seconds)) {
              error = "option -m: expected a proper numerical parameter";
              return std::nullopt;
            }
            options.max_time = seconds;
          }
          break;
        } else {
          error = std::string("option -") + flag + ": is unknown";
          return std::nullopt;
        }
      }
    } else {
      error = "option " + arg + ": is unknown";
      return std::nullopt;
    }
  }
  if (options.url.empty() && !options.version) {
    error = "no URL specified";
    return std::nullopt;
  }
  return options;
}

int run_curl(const Args& args) {
  std::string error;
  const auto options = parse_curl_args(args, error);
  if (!options) {
    std::fprintf(stderr,
                 "curl: %s\ncurl: this curl is consul-ecs answering `curl [-fsS] [-o file] [-m secs] URL`"
                 " over plain HTTP\n",
                 error.c_str());
    return kExitBadUsage;
  }
  if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) return kExitBadUsage;
  if (options->version) {
    std::printf("curl %s (consul-ecs %s) %s\nProtocols: http\nFeatures: none (consul-ecs's plain-HTTP GET client)\n",
                LIBCURL_VERSION, CONSUL_ECS_VERSION, curl_version());
    return 0;
  }
  const bool say_errors = !options->silent || options->show_error;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return kExitBadUsage;

  FILE* out = stdout;
  CURLcode rc = CURLE_OK;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  if (!options->output.empty()) {
    out = std::fopen(options->output.c_str(), "wb");
    if (out == nullptr) {
      if (say_errors) std::fprintf(stderr, "curl: (23) %s: %s\n", options->output.c_str(), std::strerror(errno));
      curl_easy_cleanup(curl);
      return CURLE_WRITE_ERROR;
    }
  }
  curl_easy_setopt(curl, CURLOPT_URL, options->url.c_str());
  // Plain HTTP only: the health check needs nothing else, and a URL without
  // a scheme means http, as curl guesses.
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http");
  curl_easy_setopt(curl, CURLOPT_DEFAULT_PROTOCOL, "http");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, options->fail ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_out);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "curl (consul-ecs)");
  if (options->max_time) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(*options->max_time * 1000));
  if (options->connect_timeout) {
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(*options->connect_timeout * 1000));
  }
  rc = curl_easy_perform(curl);
  if (rc != CURLE_OK && say_errors) {
    std::fprintf(stderr, "curl: (%d) %s\n", static_cast<int>(rc),
                 error_buffer[0] ? error_buffer : curl_easy_strerror(rc));
  }
  curl_easy_cleanup(curl);
  if (out != stdout) std::fclose(out);
  std::fflush(stdout);
  return static_cast<int>(rc);
}

}  // namespace consulecs::commands
