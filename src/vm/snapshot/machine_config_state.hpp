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

std::vector<std::uint8_t> encode_machine(const MachineSection& machine);
/// Fails with a description when the bytes are not a machine section.
Result<MachineSection> decode_machine(std::span<const std::uint8_t> bytes);

} // namespace vessel::snapshot
