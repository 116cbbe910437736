// `vessel migrate SOCKET URL`: live-migrates the VM an API-mode Vessel serves to a receiver.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace vessel {

struct MigrateOptions {
    std::string socket_path; ///< the source VM's --api-sock
    std::string url;         ///< unix:PATH or tcp:HOST:PORT where a receiver listens
};

/// Declares the `migrate` subcommand and its options on app.
CLI::App* add_migrate_command(CLI::App& app, MigrateOptions& options);

/// PUT /vm.send-migration on the socket; returns 0 once the destination runs the VM, or 2 with
/// the reason (the source VM then runs on).
int migrate(const MigrateOptions& options);

} // namespace vessel
