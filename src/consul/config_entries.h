#pragma once
// The service-defaults config entry mesh-init keeps for
// service.networkResilienceConfig (v0.10): outlier detection applied to all
// upstreams of the service, via UpstreamConfig.Defaults.PassiveHealthCheck.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "config/config.h"
#include "consul/request.h"

namespace consulecs::consul {

// PassiveHealthCheck keys Consul before 1.22-ish does not know (1.15.4
// answers 400 "invalid config key"); upsert_service_defaults drops them and
// retries when Consul rejects one of them.
inline constexpr const char* kNewerPassiveHealthCheckKeys[] = {
    "Consecutive5xx", "EnforcingConsecutiveGatewayFailure", "ConsecutiveGatewayFailure"};

// The PassiveHealthCheck keys the config's outlierDetection maps to.
inline constexpr const char* kOwnedPassiveHealthCheckKeys[] = {
    "Interval", "MaxFailures", "EnforcingConsecutive5xx", "Consecutive5xx", "EnforcingConsecutiveGatewayFailure",
    "ConsecutiveGatewayFailure", "MaxEjectionPercent"};

// The PassiveHealthCheck object for cfg (config::outlier_detection() with its
// defaults): Interval in integer nanoseconds (Go time.Duration, as Consul
// returns it; omitted when 0), MaxFailures always, the optional counters
// only when set.
nlohmann::json passive_health_check(const config::Config& cfg);

// The service-defaults entry to write: `existing` (GET answer, or nullopt
// when absent) with Kind, Name, Namespace/Partition (when the registration
// has them) set and the kOwnedPassiveHealthCheckKeys of
// UpstreamConfig.Defaults.PassiveHealthCheck replaced by
// passive_health_check(cfg). Every other field of `existing` is kept
// (other PassiveHealthCheck keys such as BaseEjectionTime, and
// CreateIndex/ModifyIndex, which Consul ignores on write). Pure.
nlohmann::json merge_service_defaults(const std::optional<nlohmann::json>& existing, const std::string& service,
                                      const config::Config& cfg);

// Read-modify-write of service-defaults/<service> with compare-and-set:
// GET (404 = absent), merge, no write when nothing changes (returns false),
// else PUT /v1/config?cas=<ModifyIndex, 0 when absent> and return true.
// Consul answering `false` (someone else wrote in between) re-reads and
// retries, up to `attempts` times, then throws std::runtime_error. Other
// failures propagate (ApiError, UnavailableError). Call it only when
// config::network_resilience_enabled(cfg) (sidecar tasks, not gateways).
bool upsert_service_defaults(const Call& consul, const std::string& service, const config::Config& cfg,
                             int attempts = 10);

}  // namespace consulecs::consul
