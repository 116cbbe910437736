// Drive and NetworkInterface validation per Firecracker's swagger definitions.
#include "api/device_config.hpp"

#include <algorithm>

#include "api/json_fields.hpp"
#include "vm/host_resources.hpp"

namespace vessel::api {

namespace {

constexpr std::uint64_t max_token_value = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t min_mtu = 68;    // swagger NetworkInterface.mtu minimum
constexpr std::uint64_t max_mtu = 65535; // swagger NetworkInterface.mtu maximum

Result<void> check_token_bucket(const nlohmann::json& value, std::string what) {
    JsonFields fields = TRY(JsonFields::of(value, std::move(what)));
    TRY(fields.unsigned_integer("size", max_token_value));
    TRY(fields.unsigned_integer("refill_time", max_token_value));
    TRY(fields.optional_unsigned("one_time_burst", max_token_value));
    return fields.finish();
}

Result<void> check_rate_limiter(JsonFields& owner, std::string_view name) {
    auto limiter = TRY(owner.optional_object(name));
    if (!limiter) return {};
    std::string what = fmt::format("{}.{}", owner.what(), name);
    JsonFields fields = TRY(JsonFields::of(*limiter, what));
    for (std::string_view bucket : {"bandwidth", "ops"}) {
        if (auto value = TRY(fields.optional_object(bucket)))
            TRY(check_token_bucket(*value, fmt::format("{}.{}", what, bucket)));
    }
    return fields.finish();
}

Result<void> check_enum(JsonFields& fields, std::string_view name,
                        std::initializer_list<std::string_view> allowed) {
    auto value = TRY(fields.optional_string(name));
    if (!value || std::find(allowed.begin(), allowed.end(), *value) != allowed.end()) return {};
    return make_error("{}: field '{}' has invalid value '{}'", fields.what(), name, *value);
}

Result<void> check_body_id(JsonFields& fields, std::string_view name, std::string_view path_id) {
    std::string id = TRY(fields.string(name));
    if (id != path_id)
        return make_error("{}: the {} in the body ('{}') does not match the one in the path "
                          "('{}')",
                          fields.what(), name, id, path_id);
    return {};
}

} // namespace

Result<void> check_resource_id(std::string_view what, std::string_view id) {
    bool valid = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!valid)
        return make_error("{}: invalid id '{}' (1 to 64 characters of A-Z, a-z, 0-9, _)", what,
                          id.substr(0, 80));
    return {};
}

Result<DriveConfig> parse_drive(std::string_view path_id, const nlohmann::json& body) {
    TRY(check_resource_id("drives", path_id));
    JsonFields fields = TRY(JsonFields::of(body, fmt::format("drives/{}", path_id)));
    TRY(check_body_id(fields, "drive_id", path_id));
    DriveConfig drive;
    drive.drive_id = std::string(path_id);
    auto root = TRY(fields.optional_bool("is_root_device"));
    if (!root) return make_error("{}: missing required field 'is_root_device'", fields.what());
    drive.is_root_device = *root;
    drive.partuuid = TRY(fields.optional_string("partuuid"));
    TRY(check_enum(fields, "cache_type", {"Unsafe", "Writeback"}));
    TRY(check_enum(fields, "io_engine", {"Sync", "Async"}));
    drive.is_read_only = TRY(fields.optional_bool("is_read_only")).value_or(false);
    auto path = TRY(fields.optional_string("path_on_host"));
    TRY(check_rate_limiter(fields, "rate_limiter"));
    const bool limited = body.contains("rate_limiter") && !body["rate_limiter"].is_null();
    auto socket = TRY(fields.optional_string("socket"));
    TRY(fields.finish());
    drive.cache_type = body.contains("cache_type") && body["cache_type"].is_string()
                           ? std::optional(body["cache_type"].get<std::string>())
                           : std::nullopt;
    drive.io_engine = body.contains("io_engine") && body["io_engine"].is_string()
                          ? std::optional(body["io_engine"].get<std::string>())
                          : std::nullopt;
    if (socket)
        return make_error("{}: vhost-user drives ('socket') are not supported by Vessel",
                          fields.what());
    if (limited)
        return make_error("{}: field 'rate_limiter' is not supported by Vessel", fields.what());
    if (!path || path->empty())
        return make_error("{}: missing required field 'path_on_host'", fields.what());
    drive.path_on_host = *path;
    return drive;
}

nlohmann::json DriveConfig::to_json() const {
    nlohmann::json json = {{"drive_id", drive_id},
                           {"path_on_host", path_on_host},
                           {"is_root_device", is_root_device},
                           {"is_read_only", is_read_only}};
    if (partuuid) json["partuuid"] = *partuuid;
    if (cache_type) json["cache_type"] = *cache_type;
    if (io_engine) json["io_engine"] = *io_engine;
    return json;
}

Result<NetworkInterfaceConfig> parse_network_interface(std::string_view path_id,
                                                       const nlohmann::json& body) {
    TRY(check_resource_id("network-interfaces", path_id));
    JsonFields fields = TRY(JsonFields::of(body, fmt::format("network-interfaces/{}", path_id)));
    TRY(check_body_id(fields, "iface_id", path_id));
    NetworkInterfaceConfig config;
    config.iface_id = std::string(path_id);
    config.host_dev_name = TRY(fields.string("host_dev_name"));
    config.guest_mac = TRY(fields.optional_string("guest_mac"));
    auto mtu = TRY(fields.optional_unsigned("mtu", max_mtu));
    if (mtu && *mtu < min_mtu)
        return make_error("{}: field 'mtu' is {}, the minimum is {}", fields.what(), *mtu, min_mtu);
    TRY(check_rate_limiter(fields, "rx_rate_limiter"));
    TRY(check_rate_limiter(fields, "tx_rate_limiter"));
    TRY(fields.finish());
    for (std::string_view limiter : {"rx_rate_limiter", "tx_rate_limiter"}) {
        if (body.contains(limiter) && !body[limiter].is_null())
            return make_error("{}: field '{}' is not supported by Vessel", fields.what(), limiter);
    }
    if (mtu) return make_error("{}: field 'mtu' is not supported by Vessel", fields.what());
    if (config.guest_mac)
        TRY_CONTEXT(check_mac_address(*config.guest_mac),
                    fmt::format("{}: field 'guest_mac'", fields.what()));
    return config;
}

nlohmann::json NetworkInterfaceConfig::to_json() const {
    nlohmann::json json = {{"iface_id", iface_id}, {"host_dev_name", host_dev_name}};
    if (guest_mac) json["guest_mac"] = *guest_mac;
    return json;
}

} // namespace vessel::api
