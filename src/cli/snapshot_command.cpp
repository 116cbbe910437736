// `vessel snapshot`: PATCH /vm Paused, PUT /snapshot/create, PATCH /vm Resumed over the socket.
#include "cli/snapshot_command.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/exit_request.hpp"
#include "base/log.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "cli/api_client.hpp"
#include "cli/run_command.hpp"
#include "vm/snapshot/memory_file.hpp"

namespace vessel {
namespace {

/// Where `--diff` puts the Diff before merging it into vm.state and vm.mem.
constexpr const char* diff_state_file = "diff.state";
constexpr const char* diff_memory_file = "diff.mem";

Result<void> save_into_directory(const SnapshotOptions& options) {
    std::error_code error;
    std::filesystem::create_directories(options.directory, error);
    if (error)
        return make_error("{}: cannot create the directory: {}", options.directory,
                          error.message());
    const std::string directory = std::filesystem::absolute(options.directory).string();
    ApiAnswer info = TRY(api_call(options.socket_path, "GET", "/", nullptr));
    auto state = nlohmann::json::parse(info.body, nullptr, false);
    const bool was_paused = state.is_object() && state.value("state", "") == "Paused";
    const std::string state_path = directory + "/" + snapshot_state_file;
    const std::string memory_path = directory + "/" + snapshot_memory_file;
    if (options.diff && !std::filesystem::exists(memory_path))
        return make_error("--diff: {} holds no snapshot to merge into (take a Full one first)",
                          directory);
    // A Diff goes beside the Full files and becomes one with them below: until then, DIR
    // still holds the last complete snapshot.
    const std::string diff_state = directory + "/" + diff_state_file;
    const std::string diff_memory = directory + "/" + diff_memory_file;
    if (!was_paused) TRY(api_call(options.socket_path, "PATCH", "/vm", {{"state", "Paused"}}));
    auto created = api_call(options.socket_path, "PUT", "/snapshot/create",
                            {{"snapshot_type", options.diff ? "Diff" : "Full"},
                             {"snapshot_path", options.diff ? diff_state : state_path},
                             {"mem_file_path", options.diff ? diff_memory : memory_path}});
    if (!was_paused && !options.leave_paused)
        TRY(api_call(options.socket_path, "PATCH", "/vm", {{"state", "Resumed"}}));
    if (!created) return std::unexpected(created.error());
    if (!options.diff) return {};
    const std::uint64_t merged = TRY(snapshot::merge_diff_memory_file(diff_memory, memory_path));
    if (::rename(diff_state.c_str(), state_path.c_str()) != 0)
        return make_error("{}: cannot rename it to {}: {}", diff_state, state_path,
                          std::strerror(errno));
    ::unlink(diff_memory.c_str());
    log::info("diff snapshot: {} bytes of written pages merged into {}", merged, memory_path);
    return {};
}

} // namespace

CLI::App* add_snapshot_command(CLI::App& app, SnapshotOptions& options) {
    auto* command = app.add_subcommand(
        "snapshot", "Save a VM served by `vessel --api-sock SOCKET` into DIR (vm.state, "
                    "vm.mem); `vessel run --restore DIR` resumes it");
    command->add_option("socket", options.socket_path, "The VM's API socket")
        ->required()
        ->type_name("SOCKET");
    command->add_option("directory", options.directory, "Where the snapshot goes")
        ->required()
        ->type_name("DIR");
    command->add_flag("--leave-paused", options.leave_paused,
                      "Leave the VM paused after the snapshot (default: it runs on)");
    command->add_flag("--diff", options.diff,
                      "DIR holds this VM's last snapshot: save only the pages written since (a "
                      "Diff) and merge them into it, so DIR holds the new snapshot");
    command->footer("Exit status: 0 when saved, 2 when the VM or the request refused (the "
                    "message says why).");
    return command;
}

int take_snapshot(const SnapshotOptions& options) {
    if (auto result = save_into_directory(options); !result) {
        log::error("snapshot: {}", result.error().message);
        return exit_status::usage;
    }
    log::info("snapshot saved in {}", options.directory);
    return exit_status::clean;
}

} // namespace vessel
