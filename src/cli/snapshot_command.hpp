// `vessel snapshot SOCKET DIR`: snapshots a running API-mode Vessel through its socket.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace vessel {

struct SnapshotOptions {
    std::string socket_path; ///< the VM's --api-sock
    std::string directory;   ///< gets vm.state and vm.mem (created if missing)
    bool leave_paused{false};
    /// --diff: DIR holds this VM's last snapshot; save only the pages written since, merge
    /// them into DIR/vm.mem, and make the new state DIR/vm.state.
    bool diff{false};
};

/// Declares the `snapshot` subcommand and its options on app.
CLI::App* add_snapshot_command(CLI::App& app, SnapshotOptions& options);

/// Pauses the VM, saves it into the directory, resumes it (unless asked not to or it was
/// paused already); returns 0, or 2 with a message when the VM or the request refuses.
int take_snapshot(const SnapshotOptions& options);

} // namespace vessel
