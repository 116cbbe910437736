// Device resources Vessel validates but cannot provide yet: drives and network interfaces.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace vessel::api {

/// Checks a body against Firecracker's Drive definition (and that drive_id matches the path),
/// then fails: Vessel has no virtio-blk device yet. A well-formed request therefore gets a
/// fault naming the missing feature, a malformed one the field that is wrong.
Result<void> check_drive(std::string_view path_id, const nlohmann::json& body);

/// Same for NetworkInterface: Vessel has no virtio-net device yet.
Result<void> check_network_interface(std::string_view path_id, const nlohmann::json& body);

/// Firecracker's resource ids: 1 to 64 characters of [A-Za-z0-9_].
Result<void> check_resource_id(std::string_view what, std::string_view id);

} // namespace vessel::api
