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
#include "cli/run_command.hpp"

namespace vessel {
namespace {

struct ApiAnswer {
    int status{0};
    std::string body;
};

/// One HTTP/1.1 request on a fresh connection to the API socket (Connection: close).
Result<ApiAnswer> api_request(const std::string& socket_path, std::string_view method,
                              std::string_view path, const std::string& body) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(address.sun_path))
        return make_error("API socket {}: path too long", socket_path);
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    // Sound: sockaddr_un is the sockaddr the call expects for AF_UNIX.
    if (!fd.valid() ||
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
        return make_error("API socket {}: cannot connect: {}", socket_path, std::strerror(errno));
    const std::string request = fmt::format("{} {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                                            "application/json\r\nContent-Length: {}\r\n"
                                            "Connection: close\r\n\r\n{}",
                                            method, path, body.size(), body);
    for (std::size_t sent = 0; sent < request.size();) {
        const ssize_t result =
            ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0)
            return make_error("API socket {}: cannot send: {}", socket_path, std::strerror(errno));
        sent += static_cast<std::size_t>(result);
    }
    std::string answer;
    char buffer[4096];
    while (true) {
        const ssize_t result = ::recv(fd.get(), buffer, sizeof(buffer), 0);
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0) break;
        answer.append(buffer, static_cast<std::size_t>(result));
        const std::size_t header_end = answer.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        // Done once the body Content-Length announces is complete.
        std::size_t length = 0;
        const std::size_t field = answer.find("Content-Length:");
        if (field != std::string::npos && field < header_end)
            length = std::strtoul(answer.c_str() + field + 15, nullptr, 10);
        if (answer.size() >= header_end + 4 + length) break;
    }
    int status = 0;
    if (std::sscanf(answer.c_str(), "HTTP/1.1 %d", &status) != 1)
        return make_error("API socket {}: no HTTP answer to {} {}", socket_path, method, path);
    const std::size_t header_end = answer.find("\r\n\r\n");
    return ApiAnswer{status, header_end == std::string::npos ? "" : answer.substr(header_end + 4)};
}

/// The request's answer when it succeeded (2xx), else an error with the API's fault_message.
Result<ApiAnswer> api_call(const std::string& socket_path, std::string_view method,
                           std::string_view path, const nlohmann::json& body) {
    ApiAnswer answer =
        TRY(api_request(socket_path, method, path, body.is_null() ? "" : body.dump()));
    if (answer.status / 100 == 2) return answer;
    std::string message = answer.body;
    auto json = nlohmann::json::parse(answer.body, nullptr, false);
    if (json.is_object() && json.contains("fault_message") && json["fault_message"].is_string())
        message = json["fault_message"].get<std::string>();
    return make_error("{} {}: {} {}", method, path, answer.status, message);
}

Result<void> snapshot(const SnapshotOptions& options) {
    std::error_code error;
    std::filesystem::create_directories(options.directory, error);
    if (error)
        return make_error("{}: cannot create the directory: {}", options.directory,
                          error.message());
    const std::string directory = std::filesystem::absolute(options.directory).string();
    ApiAnswer info = TRY(api_call(options.socket_path, "GET", "/", nullptr));
    auto state = nlohmann::json::parse(info.body, nullptr, false);
    const bool was_paused = state.is_object() && state.value("state", "") == "Paused";
    if (!was_paused) TRY(api_call(options.socket_path, "PATCH", "/vm", {{"state", "Paused"}}));
    auto created = api_call(options.socket_path, "PUT", "/snapshot/create",
                            {{"snapshot_type", "Full"},
                             {"snapshot_path", directory + "/" + snapshot_state_file},
                             {"mem_file_path", directory + "/" + snapshot_memory_file}});
    if (!was_paused && !options.leave_paused)
        TRY(api_call(options.socket_path, "PATCH", "/vm", {{"state", "Resumed"}}));
    if (!created) return std::unexpected(created.error());
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
    command->footer("Exit status: 0 when saved, 2 when the VM or the request refused (the "
                    "message says why).");
    return command;
}

int take_snapshot(const SnapshotOptions& options) {
    if (auto result = snapshot(options); !result) {
        log::error("snapshot: {}", result.error().message);
        return exit_status::usage;
    }
    log::info("snapshot saved in {}", options.directory);
    return exit_status::clean;
}

} // namespace vessel
