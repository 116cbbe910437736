// MachineConfiguration: the API's machine-config resource (vCPUs, memory, CPU options).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace vessel::api {

/// Firecracker's MachineConfiguration. Vessel runs what it can honour and refuses the rest by
/// name: smt, track_dirty_pages and huge_pages only at their defaults, no cpu_template.
struct MachineConfiguration {
    static constexpr std::uint64_t max_vcpu_count = 32;      ///< Firecracker's limit
    static constexpr std::uint64_t max_mem_size_mib = 65536; ///< Vessel's: 64 GiB

    std::uint32_t vcpu_count{1};
    std::uint64_t mem_size_mib{128}; ///< Firecracker's default
    /// Vessel extension field `vessel_page_sharing`: guest RAM is offered to the host's KSM
    /// (identical pages shared copy-on-write). Default false; Firecracker has no such field.
    bool page_sharing{false};
    /// Firecracker's gdb_socket_path: a GDB stub on this Unix socket (created at InstanceStart;
    /// the guest waits for the debugger); empty for none.
    std::string gdb_socket_path;
    /// Vessel extension field `vessel_cpu_model`: the software CPU's model (baseline,
    /// x86-64-v2, x86-64-v3, max; as `--cpu-model`), in the spirit of Firecracker's CPU
    /// templates; empty: as `--cpu-model`'s default (engine_selection.cpp).
    std::string cpu_model;

    /// PUT: vcpu_count and mem_size_mib are required; the optional fields take their defaults.
    static Result<MachineConfiguration> from_json(const nlohmann::json& body);
    /// PATCH: only the fields present change.
    Result<MachineConfiguration> patched(const nlohmann::json& body) const;
    nlohmann::json to_json() const;
};

} // namespace vessel::api
