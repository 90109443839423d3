#pragma once
// consul-ecs invoked as `curl` (argv[0]'s basename; the image links
// /usr/bin/curl to the binary): a plain-HTTP GET client for the official task
// definitions' health check, `CMD-SHELL curl -f localhost:10000/consul-ecs/health`,
// so the image carries no second TLS stack. The subset of curl it accepts:
//   curl [-f|--fail] [-s|--silent] [-S|--show-error] [-o|--output FILE]
//        [-m|--max-time SECONDS] [--connect-timeout SECONDS] [--] URL
//   curl -V|--version
// (short flags combine: -fsS). The body goes to stdout (or FILE); exit codes
// are curl's: 0, 22 for an HTTP status >= 400 with --fail, 7 when the
// connection fails, 28 on timeout, 1 for a scheme other than http, 2 for a
// bad command line.
#include <optional>
#include <string>

#include "commands/command.h"

namespace consulecs::commands {

struct CurlOptions {
  bool version = false;                   // -V/--version: curl's first line, then what this curl is
  bool fail = false;                      // -f: HTTP status >= 400 is exit 22, no body
  bool silent = false;                    // -s: no error message...
  bool show_error = false;                // -S: ...unless -S
  std::string output;                     // -o FILE; empty: stdout
  std::optional<double> max_time;         // -m seconds, whole transfer
  std::optional<double> connect_timeout;  // --connect-timeout seconds
  std::string url;
};

// True when argv[0] names curl (basename "curl").
bool invoked_as_curl(const char* argv0);

// Parses curl's arguments (after argv[0]); on a bad command line returns
// nullopt and sets `error` to curl's wording.
std::optional<CurlOptions> parse_curl_args(const Args& args, std::string& error);

int run_curl(const Args& args);

}  // namespace consulecs::commands
