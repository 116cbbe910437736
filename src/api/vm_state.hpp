// VmState: the lifecycle of the one VM a Vessel process runs, shared by the CLI and the API.
#pragma once

#include <string_view>

namespace vessel::api {

/// NotStarted -> Running <-> Paused; Running or Paused -> Stopped (guest exit, error or stop).
enum class VmState { NotStarted, Running, Paused, Stopped };

/// The names Firecracker's InstanceInfo.state uses ("Not started", "Running", "Paused"), plus
/// "Stopped", which Firecracker never shows since it exits with the guest.
constexpr std::string_view vm_state_name(VmState state) {
    switch (state) {
    case VmState::NotStarted:
        return "Not started";
    case VmState::Running:
        return "Running";
    case VmState::Paused:
        return "Paused";
    case VmState::Stopped:
        return "Stopped";
    }
    return "Unknown";
}

} // namespace vessel::api
