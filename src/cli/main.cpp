// vessel: command-line entry point.
#include <CLI/CLI.hpp>

#include "base/exit_request.hpp"
#include "base/log.hpp"
#include "base/version.hpp"
#include "cli/api_command.hpp"
#include "cli/jail_command.hpp"
#include "cli/migrate_command.hpp"
#include "cli/run_command.hpp"
#include "cli/snapshot_command.hpp"
#include "cli/terminal.hpp"
#include "sandbox/seccomp_sandbox.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Vessel: a virtual machine monitor with KVM and a software x86 engine"};
    // Either `vessel run ...` or Firecracker-style `vessel --api-sock PATH` /
    // `vessel --config-file FILE --no-api`.
    app.require_subcommand(0, 1);
    app.set_version_flag("--version", fmt::format("vessel {} (Firecracker-compatible API; "
                                                  "engines: kvm, soft)",
                                                  vessel::vessel_version));
    std::string log_level = "info";
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
        ->capture_default_str();
    vessel::RunOptions run_options;
    auto* run = vessel::add_run_command(app, run_options);
    vessel::SnapshotOptions snapshot_options;
    auto* snapshot = vessel::add_snapshot_command(app, snapshot_options);
    vessel::MigrateOptions migrate_options;
    auto* migrate = vessel::add_migrate_command(app, migrate_options);
    vessel::ApiOptions api_options;
    vessel::add_api_options(app, api_options);
    vessel::JailOptions jail_options;
    auto* jail = vessel::add_jail_command(app, jail_options);
    // Seccomp filters are on unless turned off (before or after `run`); VESSEL_SECCOMP=log
    // (for building the lists) and =off do the same from the environment.
    bool no_seccomp = false;
    const char* no_seccomp_help = "Run without seccomp filters (debugging only: every thread "
                                  "may then make any system call)";
    app.add_flag("--no-seccomp", no_seccomp, no_seccomp_help);
    run->add_flag("--no-seccomp", no_seccomp, no_seccomp_help);
    // `vessel jail ... -- VESSEL ARGS`: everything after the first `--` is the jailed Vessel's,
    // options and subcommands included, so CLI11 sees only what comes before it.
    if (argc > 1 && std::string_view(argv[1]) == "jail") {
        for (int index = 2; index < argc; ++index) {
            if (std::string_view(argv[index]) != "--") continue;
            jail_options.vessel_arguments.assign(argv + index + 1, argv + argc);
            argc = index;
            break;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        int status = app.exit(error);
        return status == 0 ? 0 : vessel::exit_status::usage;
    }
    vessel::log::initialize(log_level);
    bool api_mode = vessel::api_mode_requested(api_options);
    if (jail->parsed()) return vessel::run_jail_command(jail_options);
    if ((run->parsed() || snapshot->parsed() || migrate->parsed()) && api_mode) {
        vessel::log::error(
            "--api-sock, --config-file and --no-api do not combine with `run` or `snapshot`");
        return vessel::exit_status::usage;
    }
    if (run->parsed() || api_mode) {
        auto mode = vessel::sandbox::seccomp_mode_from_environment(
            no_seccomp ? vessel::sandbox::SeccompMode::Off : vessel::sandbox::SeccompMode::Enforce);
        if (!mode) {
            vessel::log::error("{}", mode.error().message);
            return vessel::exit_status::usage;
        }
        if (auto active = vessel::sandbox::activate_seccomp(*mode); !active) {
            vessel::log::error("{} (--no-seccomp runs without filters)", active.error().message);
            return vessel::exit_status::usage;
        }
        vessel::sandbox::set_violation_cleanup(&vessel::Terminal::restore_modes_at_fatal_exit);
    }
    if (run->parsed()) return vessel::run_vm(run_options);
    if (snapshot->parsed()) return vessel::take_snapshot(snapshot_options);
    if (migrate->parsed()) return vessel::migrate(migrate_options);
    if (api_mode) return vessel::run_api(api_options);
    vessel::log::error("nothing to do: use `vessel run ...`, `vessel --api-sock PATH` or "
                       "`vessel --config-file FILE --no-api` (see --help)");
    return vessel::exit_status::usage;
}
