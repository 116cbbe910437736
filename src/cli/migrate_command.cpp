// `vessel migrate`: PUT /vm.send-migration over the source VM's API socket.
#include "cli/migrate_command.hpp"

#include "base/exit_request.hpp"
#include "base/log.hpp"
#include "cli/api_client.hpp"

namespace vessel {

CLI::App* add_migrate_command(CLI::App& app, MigrateOptions& options) {
    auto* command = app.add_subcommand(
        "migrate", "Live-migrate the VM served by `vessel --api-sock SOCKET` to a Vessel "
                   "receiving at URL (`vessel run --incoming URL` or PUT /vm.receive-migration)");
    command->add_option("socket", options.socket_path, "The source VM's API socket")
        ->required()
        ->type_name("SOCKET");
    command->add_option("url", options.url, "Where the receiver listens")
        ->required()
        ->type_name("unix:PATH|tcp:HOST:PORT");
    command->footer("Exit status: 0 when the destination runs the VM (the source Vessel then "
                    "exits), 2 when the migration failed (the message says why; the VM runs on "
                    "at the source).");
    return command;
}

int migrate(const MigrateOptions& options) {
    auto result = api_call(options.socket_path, "PUT", "/vm.send-migration",
                           {{"destination_url", options.url}});
    if (!result) {
        log::error("migrate: {}", result.error().message);
        return exit_status::usage;
    }
    log::info("the VM runs at {} now", options.url);
    return exit_status::clean;
}

} // namespace vessel
