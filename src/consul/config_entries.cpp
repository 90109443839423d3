#include "consul/config_entries.h"

#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>

#include "consul/endpoints.h"
#include "consul/errors.h"
#include "util/log.h"

namespace consulecs::consul {
namespace {

using nlohmann::json;

bool names_newer_key(const std::string& message) {
  for (const char* key : kNewerPassiveHealthCheckKeys) {
    if (message.find(std::string("PassiveHealthCheck.") + key) != std::string::npos) return true;
  }
  return false;
}

void drop_newer_keys(json& entry) {
  json* check = nullptr;
  if (auto up = entry.find("UpstreamConfig"); up != entry.end() && up->is_object()) {
    if (auto defaults = up->find("Defaults"); defaults != up->end() && defaults->is_object()) {
      if (auto phc = defaults->find("PassiveHealthCheck"); phc != defaults->end() && phc->is_object()) check = &*phc;
    }
  }
  if (check == nullptr) return;
  for (const char* key : kNewerPassiveHealthCheckKeys) check->erase(key);
}

}  // namespace

json passive_health_check(const config::Config& cfg) {
  const config::OutlierDetection od = config::outlier_detection(cfg);
  json out = json::object();
  // Mirrors Consul's api.PassiveHealthCheck: Interval omitted when zero,
  // MaxFailures always present, the pointer fields only when set.
  if (od.interval_ns.value_or(0) != 0) out["Interval"] = *od.interval_ns;
  out["MaxFailures"] = od.max_failures.value_or(0);
  if (od.enforcing_consecutive_5xx) out["EnforcingConsecutive5xx"] = *od.enforcing_consecutive_5xx;
  if (od.consecutive_5xx) out["Consecutive5xx"] = *od.consecutive_5xx;
  if (od.enforcing_consecutive_gateway_failure) {
    out["EnforcingConsecutiveGatewayFailure"] = *od.enforcing_consecutive_gateway_failure;
  }
  if (od.consecutive_gateway_failure) out["ConsecutiveGatewayFailure"] = *od.consecutive_gateway_failure;
  if (od.max_ejection_percent) out["MaxEjectionPercent"] = *od.max_ejection_percent;
  return out;
}

json merge_service_defaults(const std::optional<json>& existing, const std::string& service, const config::Config& cfg) {
  json entry = existing && existing->is_object() ? *existing : json::object();
  entry["Kind"] = "service-defaults";
  entry["Name"] = service;
  const std::string ns = config::registration_namespace(cfg);
  const std::string partition = config::registration_partition(cfg);
  if (!ns.empty()) entry["Namespace"] = ns;
  if (!partition.empty()) entry["Partition"] = partition;
  // A null or non-object UpstreamConfig/Defaults (never written by Consul,
  // but possible in a hand-made answer) is replaced, not merged into.
  if (!entry.contains("UpstreamConfig") || !entry["UpstreamConfig"].is_object()) entry["UpstreamConfig"] = json::object();
  json& upstream = entry["UpstreamConfig"];
  if (!upstream.contains("Defaults") || !upstream["Defaults"].is_object()) upstream["Defaults"] = json::object();
  // The config owns the seven outlier fields (one it leaves unset is
  // removed); other PassiveHealthCheck fields (BaseEjectionTime) are kept.
  json& defaults = upstream["Defaults"];
  json check = defaults.contains("PassiveHealthCheck") && defaults["PassiveHealthCheck"].is_object()
                   ? defaults["PassiveHealthCheck"]
                   : json::object();
  for (const char* key : kOwnedPassiveHealthCheckKeys) check.erase(key);
  check.update(passive_health_check(cfg));
  defaults["PassiveHealthCheck"] = std::move(check);
  return entry;
}

bool upsert_service_defaults(const Call& consul, const std::string& service, const config::Config& cfg,
                             int attempts) {
  const std::string ns = config::registration_namespace(cfg);
  const std::string partition = config::registration_partition(cfg);
  bool drop_newer = false;
  int conflicts = 0;
  while (true) {
    std::optional<json> existing;
    try {
      existing = consul(config_entry("service-defaults", service, ns, partition));
    } catch (const ApiError& e) {
      if (e.status() != 404) throw;
    }
    json entry = merge_service_defaults(existing, service, cfg);
    if (drop_newer) drop_newer_keys(entry);
    if (existing && entry == *existing) {
      log::debug("service-defaults {}: passive health check already up to date", service);
      return false;
    }
    const std::uint64_t index = existing ? existing->value("ModifyIndex", std::uint64_t{0}) : 0;
    json answer;
    try {
      answer = consul(put_config_entry_cas(entry, index, ns, partition));
    } catch (const ApiError& e) {
      // Consul < 1.22 knows only Interval, MaxFailures,
      // EnforcingConsecutive5xx and MaxEjectionPercent: keep those.
      if (e.status() == 400 && !drop_newer && names_newer_key(e.what())) {
        log::warn("service-defaults {}: this Consul does not support consecutive5xx, "
                  "enforcingConsecutiveGatewayFailure or consecutiveGatewayFailure; writing the "
                  "passive health check without them",
                  service);
        drop_newer = true;
        continue;  // not a CAS conflict: does not use up an attempt
      }
      throw;
    }
    if (answer.is_boolean() && answer.get<bool>()) {
      log::info("service-defaults {}: wrote the passive health check (cas={})", service, index);
      return true;
    }
    if (!answer.is_boolean()) {
      throw std::runtime_error(fmt::format("service-defaults {}: unexpected answer to PUT /v1/config: {}", service,
                                           answer.dump()));
    }
    if (++conflicts >= attempts) {
      throw std::runtime_error(fmt::format(
          "service-defaults {}: could not write the passive health check: the entry changed between read and "
          "write on each of {} attempts (compare-and-set conflict)",
          service, conflicts));
    }
    log::debug("service-defaults {}: changed since it was read (cas={}), reading it again", service, index);
  }
}

}  // namespace consulecs::consul
