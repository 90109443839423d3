#include "http/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <vector>

namespace consulecs::http {
namespace {

std::once_flag g_curl_init;

// Requests in flight, by the multi handle driving each, and the generation
// they started in. cancel_in_flight() bumps the generation and wakes every
// registered handle from curl_multi_poll; a request whose generation is no
// longer current stops. Registering and bumping under one mutex means a
// request either started before the bump (and is woken) or after it (and
// carries the new generation).
std::mutex g_in_flight_mutex;
std::vector<CURLM*> g_in_flight;  // guarded by g_in_flight_mutex
std::atomic<std::uint64_t> g_generation{0};
std::atomic<bool> g_all_cancelled{false};  // cancel_all(): later requests fail too

class InFlight {
 public:
  explicit InFlight(CURLM* multi) : multi_(multi) {
    std::lock_guard lock(g_in_flight_mutex);
    generation_ = g_generation.load();
    g_in_flight.push_back(multi_);
  }
  ~InFlight() {
    std::lock_guard lock(g_in_flight_mutex);
    const auto it = std::find(g_in_flight.begin(), g_in_flight.end(), multi_);
    if (it != g_in_flight.end()) g_in_flight.erase(it);
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  bool cancelled() const { return g_all_cancelled.load() || g_generation.load() != generation_; }

 private:
  CURLM* multi_;
  std::uint64_t generation_ = 0;
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t write_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(data, size * count);
  // A new status line starts a new header block (redirects, 100-continue).
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * count;
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
  };
  headers->emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  return size * count;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

void cancel_in_flight() {
  std::lock_guard lock(g_in_flight_mutex);
  ++g_generation;
  for (CURLM* multi : g_in_flight) curl_multi_wakeup(multi);  // thread-safe by contract
}

void cancel_all() {
  g_all_cancelled.store(true);
  cancel_in_flight();
}

std::uint64_t cancel_generation() { return g_generation.load(); }

struct Client::Impl {
  CURL* curl = nullptr;
  CURLM* multi = nullptr;  // drives `curl`; owns the connection cache

  // curl_easy_perform, but through the multi handle so that the request's
  // stop flag (or cancel_in_flight()) can wake it. Returns the transfer's
  // result.
  CURLcode perform(const signals::StopFlag* cancel, bool& cancelled) {
    InFlight in_flight(multi);
    std::optional<signals::StopFlag::WakeHook> wake;
    // curl_multi_wakeup is thread-safe by contract; the hook is added before
    // the flag is checked, so a stop requested in between still wakes us.
    if (cancel != nullptr) wake.emplace(*cancel, [handle = multi] { curl_multi_wakeup(handle); });
    auto stopped = [&] { return in_flight.cancelled() || (cancel != nullptr && cancel->requested()); };
    cancelled = stopped();
    if (cancelled) return CURLE_ABORTED_BY_CALLBACK;
    if (curl_multi_add_handle(multi, curl) != CURLM_OK) return CURLE_FAILED_INIT;
    CURLcode result = CURLE_OK;
    bool done = false;
    while (!done) {
      int running = 0;
      if (curl_multi_perform(multi, &running) != CURLM_OK) {
        result = CURLE_FAILED_INIT;
        break;
      }
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
        if (message->msg == CURLMSG_DONE && message->easy_handle == curl) {
          result = message->data.result;
          done = true;
        }
      }
      if (done) break;
      if (stopped()) {
        cancelled = true;
        break;
      }
      // Wakes on socket activity, curl's own timers (timeouts included) or
      // curl_multi_wakeup; 1 s is only an upper bound.
      if (curl_multi_poll(multi, nullptr, 0, 1000, nullptr) != CURLM_OK) {
        result = CURLE_FAILED_INIT;
        break;
      }
      if (stopped()) {
        cancelled = true;
        break;
      }
    }
    curl_multi_remove_handle(multi, curl);
    return result;
  }
};

Client::Client() : impl_(std::make_unique<Impl>()) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->curl = curl_easy_init();
  impl_->multi = curl_multi_init();
  if (impl_->curl == nullptr || impl_->multi == nullptr) {
    if (impl_->curl) curl_easy_cleanup(impl_->curl);
    if (impl_->multi) curl_multi_cleanup(impl_->multi);
    throw TransportError("curl initialisation failed");
  }
}

Client::~Client() {
  if (!impl_) return;
  if (impl_->curl) curl_easy_cleanup(impl_->curl);
  if (impl_->multi) curl_multi_cleanup(impl_->multi);
}

Response Client::send(const Request& request) {
  CURL* curl = impl_->curl;
  curl_easy_reset(curl);
  Response response;

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(request.connect_timeout, request.timeout).count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, write_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  // Proxies from the environment would intercept loopback/link-local calls.
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");

  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }

  curl_slist* header_list = nullptr;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    if (iequals(name, "Content-Type")) has_content_type = true;
    header_list = curl_slist_append(header_list, (name + ": " + value).c_str());
  }
  // curl adds its own defaults for these; the caller's headers are what we sign.
  if (!has_content_type && request.method != "GET") header_list = curl_slist_append(header_list, "Content-Type:");
  header_list = curl_slist_append(header_list, "Expect:");
  header_list = curl_slist_append(header_list, "Accept:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);

  curl_blob ca_blob{};
  if (request.url.rfind("https://", 0) == 0) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, tls_.verify ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, tls_.verify ? 2L : 0L);
    if (!tls_.ca_pem.empty()) {
      ca_blob.data = const_cast<char*>(tls_.ca_pem.data());
      ca_blob.len = tls_.ca_pem.size();
      ca_blob.flags = CURL_BLOB_COPY;
      curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca_blob);
    } else if (!tls_.ca_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, tls_.ca_file.c_str());
    }
  }
  curl_slist* resolve_list = nullptr;
  if (!tls_.server_name.empty() && request.url.rfind("https://", 0) == 0) {
    // Connect to the address in the URL but present/verify server_name:
    // rewrite the URL host to server_name and pin it to the real address.
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    CURLU* parsed = curl_url();
    if (curl_url_set(parsed, CURLUPART_URL, request.url.c_str(), 0) == CURLUE_OK) {
      char* host = nullptr;
      char* port = nullptr;
      curl_url_get(parsed, CURLUPART_HOST, &host, 0);
      curl_url_get(parsed, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
      if (host && port) {
        std::string connect_to = tls_.server_name + ":" + port + ":" + host + ":" + port;
        resolve_list = curl_slist_append(resolve_list, connect_to.c_str());
        curl_easy_setopt(curl, CURLOPT_CONNECT_TO, resolve_list);
        curl_url_set(parsed, CURLUPART_HOST, tls_.server_name.c_str(), 0);
        char* rewritten = nullptr;
        if (curl_url_get(parsed, CURLUPART_URL, &rewritten, 0) == CURLUE_OK) {
          curl_easy_setopt(curl, CURLOPT_URL, rewritten);
          curl_free(rewritten);
        }
      }
      curl_free(host);
      curl_free(port);
    }
    curl_url_cleanup(parsed);
  }

  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  bool cancelled = false;
  const CURLcode rc = impl_->perform(request.cancel, cancelled);
  curl_slist_free_all(header_list);
  curl_slist_free_all(resolve_list);
  if (cancelled) throw CancelledError(request.method + " " + request.url + ": cancelled (shutting down)");
  if (rc != CURLE_OK) {
    std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    throw TransportError(request.method + " " + request.url + ": " + detail);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::string url_encode(std::string_view value, std::string_view also_keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.' || c == '~';
    if (unreserved || also_keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace consulecs::http
