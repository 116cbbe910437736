// Metrics: Firecracker-style JSON metric lines written to the configured file or pipe.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/vm_controller.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace vessel::api {

/// Counts API requests per method and resource (Firecracker's get/put/patch_api_requests
/// groups: "<resource>_count" and "<resource>_fails") and, on flush(), writes one JSON line with
/// those counters, the VM's state and device counters, then resets the counters, as
/// Firecracker's metrics are deltas since the previous flush.
class Metrics {
  public:
    /// Firecracker flushes every 60 seconds besides on FlushMetrics.
    static constexpr std::chrono::seconds default_period{60};

    /// Opens path for appending (creating a regular file if missing; a named pipe works too).
    Result<void> open(const std::string& path);
    bool configured() const;
    std::optional<std::string> path() const;

    /// Records one API request: method "GET"/"PUT"/"PATCH", resource e.g. "machine_cfg".
    void count_request(std::string_view method, std::string_view resource, bool failed);
    /// Writes one line; fails when not configured or the write fails.
    Result<void> flush(const VmController& vm);

  private:
    nlohmann::json snapshot(const VmController& vm);

    mutable std::mutex m_mutex;
    UniqueFd m_fd;
    std::string m_path;
    std::map<std::string, std::map<std::string, std::uint64_t>> m_requests;
    std::uint64_t m_flushes{0};
    VmCounters m_last; ///< counters at the previous flush (metrics are deltas)
    std::chrono::steady_clock::time_point m_started{std::chrono::steady_clock::now()};
};

} // namespace vessel::api
