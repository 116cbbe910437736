// Device resources of the API: drives (virtio-blk) and network interfaces (virtio-net on TAP).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace vessel::api {

/// A Firecracker Drive (swagger definition "Drive") Vessel attaches as a virtio-blk disk.
struct DriveConfig {
    std::string drive_id;
    std::string path_on_host;
    bool is_root_device{false};
    bool is_read_only{false};
    std::optional<std::string> partuuid;
    /// Unsafe (the default: no FLUSH offered, flushes not synced) or Writeback (fdatasync)
    std::optional<std::string> cache_type;
    std::optional<std::string> io_engine; ///< Sync (synchronous back-end) or Async (io_uring)

    nlohmann::json to_json() const;
};

/// Checks a body against Firecracker's Drive definition (and that drive_id matches the path).
/// Fields Vessel cannot honour (rate_limiter, a vhost-user socket) are refused by name.
Result<DriveConfig> parse_drive(std::string_view path_id, const nlohmann::json& body);

/// A Firecracker NetworkInterface: a virtio-net device on the host TAP interface host_dev_name.
struct NetworkInterfaceConfig {
    std::string iface_id;
    std::string host_dev_name;
    std::optional<std::string> guest_mac; ///< as given; checked by MacAddress::parse

    nlohmann::json to_json() const;
};

/// Checks a body against Firecracker's NetworkInterface definition (iface_id matching the path,
/// a valid TAP name and MAC). Rate limiters and an MTU, which Vessel cannot honour, are refused.
Result<NetworkInterfaceConfig> parse_network_interface(std::string_view path_id,
                                                       const nlohmann::json& body);

/// Firecracker's resource ids: 1 to 64 characters of [A-Za-z0-9_].
Result<void> check_resource_id(std::string_view what, std::string_view id);

} // namespace vessel::api
