// `vessel --api-sock PATH` and `vessel --config-file FILE --no-api`: Firecracker-style control.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace vessel {

/// Top-level options named as Firecracker's command line names them.
struct ApiOptions {
    std::string api_socket;  ///< --api-sock
    std::string config_file; ///< --config-file
    bool no_api{false};      ///< --no-api
    std::string instance_id{"anonymous-instance"};
    std::string engine_text{"auto"};
    unsigned metrics_period_seconds{60};
};

/// Declares the options on the top-level app.
void add_api_options(CLI::App& app, ApiOptions& options);

/// Whether the command line asked for API (or config-file) mode.
bool api_mode_requested(const ApiOptions& options);

/// Serves the API and/or boots from the config file; returns Vessel's exit status: the VM's
/// (as `vessel run` reports it) once it ends, 0 on Ctrl-A x and 130 on SIGINT/SIGTERM before it
/// started, 2 on bad options or configuration.
int run_api(const ApiOptions& options);

} // namespace vessel
