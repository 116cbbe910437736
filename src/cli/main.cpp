// vessel: command-line entry point.
#include <CLI/CLI.hpp>

#include "base/log.hpp"
#include "cli/run_command.hpp"
#include "devices/exit_request.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Vessel: a virtual machine monitor with KVM and a software x86 engine"};
    app.require_subcommand(1);
    std::string log_level = "info";
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
        ->capture_default_str();
    vessel::RunOptions run_options;
    auto* run = vessel::add_run_command(app, run_options);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        int status = app.exit(error);
        return status == 0 ? 0 : vessel::exit_status::usage;
    }
    vessel::log::initialize(log_level);
    if (run->parsed()) return vessel::run_vm(run_options);
    return vessel::exit_status::usage;
}
