// libFuzzer target: the API's route handlers. The input is what one client sends on the API
// socket; the real HttpParser splits it into requests and each goes through ApiHandlers::handle
// (routing, JSON bodies, state checks of every route: machine-config, boot-source, drives,
// network interfaces, logger, metrics, vsock, balloon, snapshots, migration, actions) to a real
// VmController whose VM never starts. Every answer must be a well-formed 200 (JSON), 204 or 400
// with a fault message; nothing may crash, hang, throw or leak.
//
// The target runs in a scratch directory of its own, in a network namespace of its own where it
// may make one: paths in the requests are confined there. Requests naming an absolute path or
// ".." are skipped (a made-up path must not reach the host's files), and so is a receive-migration
// with a valid URL, which by design waits for a source (migration_stream_fuzz covers the stream).
#include <sched.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/api_handlers.hpp"
#include "api/http_parser.hpp"
#include "api/snapshot_config.hpp"
#include "api/vm_controller.hpp"
#include "base/log.hpp"

namespace {

using namespace vessel;
using namespace vessel::api;

std::filesystem::path scratch;

/// Whether any string in the JSON value could name a place outside the scratch directory.
bool names_outside(const nlohmann::json& value) {
    if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        return text.starts_with('/') || text.find("..") != std::string::npos;
    }
    if (value.is_structured())
        for (const auto& item : value)
            if (names_outside(item)) return true;
    return false;
}

bool skipped(const HttpRequest& request) {
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded()) return false; // the handler refuses it: fine to run
    if (names_outside(body)) return true;
    return request.path == "/vm.receive-migration" && parse_receive_migration(body).has_value();
}

void check(const HttpRequest& request, const HttpResponse& response) {
    switch (response.status) {
    case 200:
        if (nlohmann::json::parse(response.body, nullptr, false).is_discarded()) __builtin_trap();
        break;
    case 204:
        break;
    case 400:
        if (response.body.find("fault_message") == std::string::npos) __builtin_trap();
        break;
    default:
        __builtin_trap(); // handlers answer 200, 204 or 400 only
    }
    (void)request;
}

/// Empties the scratch directory (files the requests created: metrics, logs).
void clean_scratch() {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(scratch, error))
        std::filesystem::remove_all(entry.path(), error);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    // libFuzzer writes corpus entries and crash artifacts relative to where it was started:
    // make its path arguments absolute before leaving for the scratch directory.
    static std::vector<std::string> arguments;
    static std::vector<char*> pointers;
    bool artifact_prefix = false;
    for (int i = 0; i < *argc; ++i) {
        std::string argument = (*argv)[i];
        if (argument.starts_with("-artifact_prefix=")) artifact_prefix = true;
        if (i > 0 && !argument.starts_with('-') && std::filesystem::exists(argument))
            argument = std::filesystem::absolute(argument).string();
        arguments.push_back(argument);
    }
    if (!artifact_prefix)
        arguments.push_back("-artifact_prefix=" + std::filesystem::current_path().string() + "/");
    for (auto& argument : arguments)
        pointers.push_back(argument.data());
    pointers.push_back(nullptr);
    *argc = static_cast<int>(arguments.size());
    *argv = pointers.data();

    char pattern[] = "/tmp/vessel-api-fuzz-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) std::abort();
    scratch = pattern;
    std::filesystem::current_path(scratch);
    std::atexit([] {
        std::error_code error;
        std::filesystem::remove_all(scratch, error);
    });
    // No TAP interface or TCP peer of the host is reachable from here (root, or a user namespace).
    if (::unshare(CLONE_NEWNET) != 0) (void)::unshare(CLONE_NEWUSER | CLONE_NEWNET);
    log::initialize("off");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto controller = VmController::create([](std::span<const std::uint8_t>) {});
    if (!controller) std::abort(); // an eventfd: only fails when fds leak
    Metrics metrics;
    ApiHandlers handlers({"fuzz", EngineChoice::Soft}, **controller, metrics);
    HttpParser parser;
    parser.append(std::string_view(reinterpret_cast<const char*>(data), size)); // bytes
    for (;;) {
        auto outcome = parser.next();
        if (outcome.kind != HttpParser::Outcome::Kind::Request) break;
        parser.take_continue_request();
        if (skipped(outcome.request)) continue;
        check(outcome.request, handlers.handle(outcome.request));
        // Nothing the scratch directory holds is a kernel or a snapshot: no VM can start.
        if ((*controller)->state() != VmState::NotStarted) __builtin_trap();
    }
    clean_scratch();
    return 0;
}
