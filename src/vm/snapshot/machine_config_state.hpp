// The machine configuration as a snapshot section: what a restore rebuilds the VM from.
#pragma once

#include "base/state_archive.hpp"
#include "engine/hypervisor.hpp"
#include "vm/machine_config.hpp"

namespace vessel::snapshot {

/// Section "machine": the configuration (devices in PCI slot order, paths, memory size,
/// vCPUs) and the engine that ran the VM.
struct MachineSection {
    MachineConfig config;
    EngineKind engine{EngineKind::Soft};
};

/// The layout this Vessel writes: version 2 added the balloon and page sharing to version 1.
inline constexpr std::uint32_t machine_section_version = 2;

/// Encodes the section in layout machine_section_version.
std::vector<std::uint8_t> encode_machine(const MachineSection& machine);
/// Fails with a description when the bytes are not a machine section of layout `version` (1 or
/// 2; a version 1 section has no balloon and no page sharing).
Result<MachineSection> decode_machine(std::span<const std::uint8_t> bytes,
                                      std::uint32_t version = machine_section_version);

} // namespace vessel::snapshot
