// `vessel --api-sock`: wires the API server, the VM controller, metrics and signals together.
#include "cli/api_command.hpp"

#include <csignal>
#include <mutex>
#include <poll.h>
#include <sys/signalfd.h>
#include <thread>

#include "api/api_handlers.hpp"
#include "api/http_server.hpp"
#include "base/event_fd.hpp"
#include "base/exit_request.hpp"
#include "base/file_contents.hpp"
#include "base/log.hpp"
#include "base/thread_role.hpp"
#include "cli/terminal.hpp"

namespace vessel {

namespace {

constexpr std::size_t max_config_file_size = 1 << 20;

EngineChoice parse_engine(const std::string& text) {
    if (text == "kvm") return EngineChoice::Kvm;
    if (text == "soft") return EngineChoice::Soft;
    if (text == "interp") return EngineChoice::SoftInterpreter;
    return EngineChoice::Auto;
}

// The quit signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) arrive through a
// signalfd; blocked before any thread starts so that every thread inherits the mask. SIGPIPE
// is ignored: a closed stdout or metrics pipe is an error to report, not a reason to die.
Result<UniqueFd> open_signal_fd() {
    sigset_t signals = Terminal::quit_signals();
    if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0)
        return make_error("cannot block the quit signals: {}", strerror(errno));
    std::signal(SIGPIPE, SIG_IGN);
    UniqueFd fd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd.valid()) return make_error("signalfd: {}", strerror(errno));
    return fd;
}

/// A console quit (Ctrl-A x) for the main thread to act on, whether or not a VM runs yet.
struct ConsoleQuit {
    EventFd event;
    std::mutex mutex;
    int status{exit_status::clean};
    std::string reason;
};

// Waits for the VM to stop, a signal or a console quit; flushes metrics every period meanwhile.
int wait_for_end(api::VmController& vm, api::Metrics& metrics, int signal_fd, ConsoleQuit& quit,
                 std::chrono::seconds period) {
    auto next_flush = std::chrono::steady_clock::now() + period;
    while (true) {
        pollfd fds[3] = {
            {signal_fd, POLLIN, 0}, {vm.stopped_fd(), POLLIN, 0}, {quit.event.fd(), POLLIN, 0}};
        auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
            next_flush - std::chrono::steady_clock::now());
        int ready = ::poll(fds, 3, static_cast<int>(std::max<std::int64_t>(remaining.count(), 0)));
        if (ready < 0 && errno != EINTR) return exit_status::usage;
        if (fds[1].revents) return vm.wait().status;
        if (fds[2].revents) {
            std::lock_guard lock(quit.mutex);
            if (vm.state() != api::VmState::NotStarted) {
                vm.stop(quit.status, quit.reason);
                return vm.wait().status;
            }
            log::info("{}", quit.reason); // as `vessel run` reports it; no VM to stop
            return quit.status;
        }
        if (fds[0].revents) {
            signalfd_siginfo info{};
            [[maybe_unused]] auto got = ::read(signal_fd, &info, sizeof(info));
            log::info("signal {} received; stopping", info.ssi_signo);
            if (vm.state() == api::VmState::NotStarted) return exit_status::interrupted;
            vm.stop(exit_status::interrupted, "stopped by signal");
            return exit_status::interrupted;
        }
        if (std::chrono::steady_clock::now() >= next_flush) {
            next_flush += period;
            if (metrics.configured()) {
                if (auto flushed = metrics.flush(vm); !flushed)
                    log::warn("periodic metrics: {}", flushed.error().message);
            }
        }
    }
}

} // namespace

void add_api_options(CLI::App& app, ApiOptions& options) {
    app.add_option("--api-sock", options.api_socket,
                   "Serve Firecracker's REST API on this Unix socket (created; must not exist)")
        ->type_name("PATH");
    app.add_option("--config-file", options.config_file,
                   "Boot at once from a Firecracker JSON config file")
        ->type_name("FILE");
    app.add_flag("--no-api", options.no_api, "With --config-file: serve no API");
    app.add_option("--id", options.instance_id, "Instance id reported by GET /")
        ->capture_default_str();
    app.add_option("--engine", options.engine_text, "CPU engine for API/config-file VMs")
        ->type_name("auto|kvm|soft|interp")
        ->check(CLI::IsMember({"auto", "kvm", "soft", "interp"}))
        ->capture_default_str();
    app.add_option("--metrics-period", options.metrics_period_seconds,
                   "Seconds between periodic metrics flushes")
        ->check(CLI::Range(1, 86400))
        ->capture_default_str();
}

bool api_mode_requested(const ApiOptions& options) {
    return !options.api_socket.empty() || !options.config_file.empty() || options.no_api;
}

int run_api(const ApiOptions& options) {
    if (options.no_api && options.config_file.empty()) {
        log::error("--no-api needs --config-file (nothing would configure the VM)");
        return exit_status::usage;
    }
    if (options.no_api && !options.api_socket.empty()) {
        log::error("--no-api and --api-sock contradict each other");
        return exit_status::usage;
    }
    if (!options.no_api && options.api_socket.empty()) {
        log::error("--config-file without --no-api needs --api-sock PATH");
        return exit_status::usage;
    }
    auto signal_fd = open_signal_fd();
    if (!signal_fd) {
        log::error("{}", signal_fd.error().message);
        return exit_status::usage;
    }
    auto vm = api::VmController::create(&Terminal::write_output);
    if (!vm) {
        log::error("{}", vm.error().message);
        return exit_status::usage;
    }
    // As with Firecracker, stdin feeds the guest's serial console (raw mode on a terminal,
    // Ctrl-A x quits); the quit signals stay with the signalfd above. The terminal is left as it
    // is until the guest starts, so `vessel --api-sock PATH &` waits in the background.
    auto terminal = Terminal::open(/*handle_signals=*/false, /*console_active=*/false);
    if (!terminal) {
        log::error("console: {}", terminal.error().message);
        return exit_status::usage;
    }
    api::VmController& controller = **vm;
    Terminal& console = **terminal;
    controller.set_start_observer([&console] { console.activate(); });
    auto quit_event = EventFd::create();
    if (!quit_event) {
        log::error("console: {}", quit_event.error().message);
        return exit_status::usage;
    }
    ConsoleQuit quit{std::move(*quit_event), {}, exit_status::clean, {}};
    (*terminal)->start(
        [&controller](std::span<const std::uint8_t> bytes) {
            return controller.enqueue_console_input(bytes);
        },
        [&quit](int status, std::string reason) {
            // Ctrl-A x: the main thread ends Vessel (and the VM, if one runs) with status 0,
            // before InstanceStart as after it.
            std::lock_guard lock(quit.mutex);
            quit.status = status;
            quit.reason = std::move(reason);
            quit.event.signal();
        });
    api::Metrics metrics;
    api::ApiHandlers handlers({options.instance_id, parse_engine(options.engine_text)}, **vm,
                              metrics);
    std::unique_ptr<api::HttpServer> server;
    std::thread server_thread;
    if (!options.no_api) {
        auto bound = api::HttpServer::bind(options.api_socket, [&handlers](const auto& request) {
            return handlers.handle(request);
        });
        if (!bound) {
            log::error("{}", bound.error().message);
            return exit_status::usage;
        }
        server = std::move(*bound);
        server_thread = std::thread([&server] {
            enter_thread_role(ThreadRole::Api);
            server->serve();
        });
        log::info("API listening on {}", options.api_socket);
    }
    int status = exit_status::usage;
    bool configured = true;
    if (!options.config_file.empty()) {
        auto started = [&]() -> Result<void> {
            auto bytes = TRY(read_file_contents(options.config_file, max_config_file_size));
            return handlers.start_from_config_file(std::string_view(
                reinterpret_cast<const char*>(bytes.data()), bytes.size())); // bytes of text
        }();
        if (!started) {
            log::error("--config-file {}: {}", options.config_file, started.error().message);
            configured = false;
        }
    }
    // Set-up is over (a --config-file VM was built on this thread): the main thread takes the
    // VMM's seccomp filter for the rest of its life.
    enter_thread_role(ThreadRole::Vmm);
    if (configured)
        status = wait_for_end(**vm, metrics, signal_fd->get(), quit,
                              std::chrono::seconds(options.metrics_period_seconds));
    (*terminal)->stop();
    if (server) {
        server->stop();
        server_thread.join();
        server.reset(); // removes the socket file
    }
    if (metrics.configured()) {
        if (auto flushed = metrics.flush(**vm); !flushed)
            log::warn("final metrics: {}", flushed.error().message);
    }
    return status;
}

} // namespace vessel
