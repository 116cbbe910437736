// The API's balloon resources (Firecracker's Balloon, BalloonUpdate, BalloonStatsUpdate).
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "api/vm_controller.hpp"
#include "base/result.hpp"

namespace vessel::api {

/// Firecracker's Balloon (swagger): amount_mib (u32) and deflate_on_oom are required,
/// stats_polling_interval_s (u16, 0 = no statistics) and free_page_reporting are optional.
struct BalloonDeviceConfig {
    static constexpr std::uint64_t max_stats_interval = 65535; ///< a u16 in Firecracker

    std::uint32_t amount_mib{0};
    bool deflate_on_oom{false};
    std::uint32_t stats_polling_interval_s{0};
    bool free_page_reporting{false};

    nlohmann::json to_json() const;
};

/// PUT /balloon and the config file's "balloon" section. mem_size_mib is the configured guest
/// memory: a larger target is Firecracker's "Amount of pages requested is too large.".
Result<BalloonDeviceConfig> parse_balloon(const nlohmann::json& body, std::uint64_t mem_size_mib);
/// PATCH /balloon: {"amount_mib": N}.
Result<std::uint32_t> parse_balloon_update(const nlohmann::json& body);
/// PATCH /balloon/statistics: {"stats_polling_interval_s": N}.
Result<std::uint32_t> parse_balloon_stats_update(const nlohmann::json& body);
/// GET /balloon/statistics: Firecracker's BalloonStats.
nlohmann::json balloon_statistics_json(const BalloonStatus& status);

} // namespace vessel::api
