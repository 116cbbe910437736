// Balloon bodies checked against Firecracker's swagger definitions and its error messages.
#include "api/balloon_config.hpp"

#include "api/json_fields.hpp"

namespace vessel::api {

namespace {
constexpr std::uint64_t pages_per_mib = (1u << 20) / 4096;
constexpr std::uint64_t max_amount_mib = UINT32_MAX; // a u32 in Firecracker
} // namespace

nlohmann::json BalloonDeviceConfig::to_json() const {
    return {{"amount_mib", amount_mib},
            {"deflate_on_oom", deflate_on_oom},
            {"stats_polling_interval_s", stats_polling_interval_s},
            {"free_page_reporting", free_page_reporting}};
}

Result<BalloonDeviceConfig> parse_balloon(const nlohmann::json& body, std::uint64_t mem_size_mib) {
    JsonFields fields = TRY(JsonFields::of(body, "balloon"));
    BalloonDeviceConfig config;
    config.amount_mib =
        static_cast<std::uint32_t>(TRY(fields.unsigned_integer("amount_mib", max_amount_mib)));
    auto deflate = TRY(fields.optional_bool("deflate_on_oom"));
    if (!deflate) return make_error("balloon: missing required field 'deflate_on_oom'");
    config.deflate_on_oom = *deflate;
    config.stats_polling_interval_s = static_cast<std::uint32_t>(
        TRY(fields.optional_unsigned("stats_polling_interval_s",
                                     BalloonDeviceConfig::max_stats_interval))
            .value_or(0));
    config.free_page_reporting = TRY(fields.optional_bool("free_page_reporting")).value_or(false);
    TRY(fields.finish());
    if (config.amount_mib > mem_size_mib)
        return make_error("balloon: Amount of pages requested is too large. (amount_mib {} is "
                          "above mem_size_mib {})",
                          config.amount_mib, mem_size_mib);
    return config;
}

Result<std::uint32_t> parse_balloon_update(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "balloon"));
    auto amount = TRY(fields.unsigned_integer("amount_mib", max_amount_mib));
    TRY(fields.finish());
    return static_cast<std::uint32_t>(amount);
}

Result<std::uint32_t> parse_balloon_stats_update(const nlohmann::json& body) {
    JsonFields fields = TRY(JsonFields::of(body, "balloon/statistics"));
    auto interval = TRY(fields.unsigned_integer("stats_polling_interval_s",
                                                BalloonDeviceConfig::max_stats_interval));
    TRY(fields.finish());
    return static_cast<std::uint32_t>(interval);
}

nlohmann::json balloon_statistics_json(const BalloonStatus& status) {
    nlohmann::json json = {{"target_pages", status.target_pages},
                           {"actual_pages", status.actual_pages},
                           {"target_mib", status.target_pages / pages_per_mib},
                           {"actual_mib", status.actual_pages / pages_per_mib}};
    for (const auto& [name, value] : status.statistics)
        json[name] = value;
    return json;
}

} // namespace vessel::api
