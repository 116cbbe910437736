// Host resources a Machine will open (disk images, TAP interfaces, MAC addresses), checked
// early: the API answers a bad PUT at once, as Firecracker does, instead of failing the boot.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "vm/machine_config.hpp"

namespace vessel {

/// Opens the raw image `path` (read-only or read-write) as the machine's synchronous back-end
/// would, and closes it again; the error names the path and why it cannot be used.
Result<void> check_disk_image(const std::string& path, bool read_only);

/// Attaches to the existing TAP interface `name` and detaches again; fails (naming it) when it
/// does not exist or the process may not use it.
Result<void> check_tap_interface(const std::string& name);

/// Checks a guest MAC address written "52:54:00:12:34:56" (unicast, six hex bytes).
Result<void> check_mac_address(std::string_view text);

/// The virtio-net config of NIC number `index` on TAP interface `tap_name`: the MAC given, or
/// the default guest MAC with `index` added to its last byte (QEMU numbers its NICs so).
Result<NetworkConfig> tap_network(const std::string& tap_name,
                                  const std::optional<std::string>& mac, std::size_t index);

} // namespace vessel
