// `vessel run`: boots a guest with the console on the terminal.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "vm/machine_config.hpp"

namespace vessel {

/// Options of `vessel run` as typed; validated into a MachineConfig by run_vm.
struct RunOptions {
    MachineConfig config;
    std::string memory_text{"256M"};
    std::string engine_text{"auto"};
    std::string console_text{"serial"};
    std::vector<std::string> disk_texts; ///< --disk PATH[,readonly], in order
    std::string exec_command; ///< --exec: run this in the default guest instead of a shell
    std::vector<std::string> net_texts; ///< --net values; none given means one user network
    std::string vsock_text;             ///< --vsock [CID:]PATH; empty for no vsock device
    std::string restore_dir;            ///< --restore DIR: resume DIR's snapshot instead of booting
    std::string incoming_url; ///< --incoming URL: run the VM a `vessel migrate` sends there
    /// --balloon SPEC; empty: the default guest gets free page reporting, a --kernel none
    std::string balloon_text;
    bool page_sharing{false}; ///< --page-sharing: guest RAM offered to the host's KSM
    std::string gdb_text;     ///< --gdb tcp:HOST:PORT|unix:PATH; empty for no stub
    bool gdb_no_wait{false};  ///< --gdb-no-wait: boot without waiting for a debugger
};

/// The files of a snapshot directory (`vessel snapshot`, `vessel run --restore`).
inline constexpr const char* snapshot_state_file = "vm.state";
inline constexpr const char* snapshot_memory_file = "vm.mem";

/// Declares the `run` subcommand and its options on app.
CLI::App* add_run_command(CLI::App& app, RunOptions& options);

/// Validates options, builds the VM, runs it; returns Vessel's exit status.
int run_vm(RunOptions& options);

} // namespace vessel
