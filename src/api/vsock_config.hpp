// The API's vsock resource (Firecracker's PUT /vsock and the config file's "vsock" section).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace vessel::api {

/// A Firecracker Vsock (swagger definition "Vsock"): a virtio-vsock device for guest_cid whose
/// host side is the Unix socket uds_path.
struct VsockDeviceConfig {
    std::optional<std::string> vsock_id; ///< deprecated in Firecracker, accepted and ignored
    std::uint32_t guest_cid{0};
    std::string uds_path;

    nlohmann::json to_json() const;
};

/// Checks a body against Firecracker's Vsock definition: guest_cid at least 3, a uds_path that
/// fits a Unix socket address and does not exist yet (Firecracker binds it at this point),
/// in a directory that exists.
Result<VsockDeviceConfig> parse_vsock(const nlohmann::json& body);

} // namespace vessel::api
