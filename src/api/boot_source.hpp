// BootSource: the API's boot-source resource (kernel, initrd, command line).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace vessel::api {

/// Firecracker's BootSource definition. The files are checked when set, as Firecracker does,
/// so a wrong path is reported by PUT /boot-source rather than by InstanceStart.
struct BootSource {
    std::string kernel_image_path;
    std::optional<std::string> initrd_path;
    std::optional<std::string> boot_args;

    static Result<BootSource> from_json(const nlohmann::json& body);
    /// The command line the guest gets: boot_args without "pci=off". Firecracker's examples
    /// pass pci=off because its virtio devices are MMIO; Vessel's are PCI, so keeping it would
    /// hide every drive and network interface from the guest.
    std::string guest_command_line() const;
    nlohmann::json to_json() const;
};

} // namespace vessel::api
