// VmController: lifecycle transitions around Machine and the thread that runs it.
#include "api/vm_controller.hpp"

#include <cerrno>
#include <cstring>
#include <sys/eventfd.h>

#include "base/log.hpp"
#include "base/thread_role.hpp"
#include "gdb/gdb_server.hpp"
#include "vm/machine.hpp"

namespace vessel::api {

namespace {
VmCounters machine_counters(const Machine& machine) {
    const EngineCounters engine = machine.engine_counters();
    return {machine.serial().transmitted_bytes(),
            machine.boot_milliseconds(),
            machine.io_bus().read_count(),
            machine.io_bus().write_count(),
            machine.mmio_bus().read_count(),
            machine.mmio_bus().write_count(),
            engine.doorbell_rings,
            engine.routed_msis,
            machine.snapshot_statistics().state_bytes,
            machine.snapshot_statistics().memory_bytes,
            machine.snapshot_statistics().create_milliseconds,
            machine.snapshot_statistics().restore_milliseconds,
            machine.migration_statistics().rounds,
            machine.migration_statistics().bytes_sent,
            machine.migration_statistics().downtime_milliseconds,
            machine.migration_statistics().total_milliseconds};
}

/// machine_counters plus the balloon's.
VmCounters all_counters(const Machine& machine) {
    VmCounters counters = machine_counters(machine);
    if (const auto* balloon = machine.balloon()) {
        const virtio::BalloonCounters device = balloon->counters();
        counters.balloon_inflated_pages = device.inflated_pages;
        counters.balloon_deflated_pages = device.deflated_pages;
        counters.balloon_reported_pages = device.reported_pages;
        counters.balloon_stats_updates = device.stats_updates;
        counters.balloon_invalid_pfns = device.invalid_pfns;
        counters.balloon_duplicate_pfns = device.duplicate_pfns;
        counters.balloon_malformed_buffers = device.malformed_buffers;
    }
    return counters;
}

// Firecracker's balloon errors (vmm_config/balloon.rs BalloonConfigError).
constexpr const char* balloon_not_found = "No balloon device found.";
constexpr const char* balloon_not_active =
    "Device is inactive, check if balloon driver is enabled in guest kernel.";
constexpr const char* balloon_too_large = "Amount of pages requested is too large.";
constexpr const char* balloon_stats_off = "Statistics for the balloon device are not enabled";
} // namespace

Result<std::unique_ptr<VmController>> VmController::create(ConsoleOutput console) {
    UniqueFd event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!event.valid()) return make_error("VM controller: eventfd: {}", strerror(errno));
    return std::unique_ptr<VmController>(new VmController(std::move(console), std::move(event)));
}

VmController::VmController(ConsoleOutput console, UniqueFd stopped_event)
    : m_console(std::move(console)), m_stopped_event(std::move(stopped_event)) {}

VmController::~VmController() {
    stop(exit_status::clean, "Vessel is shutting down");
    if (m_thread.joinable()) m_thread.join();
}

VmState VmController::state() const {
    std::lock_guard lock(m_mutex);
    return m_state;
}

Result<void> VmController::start(const MachineConfig& config, const std::string& gdb_socket_path) {
    std::lock_guard lock(m_mutex);
    if (m_state != VmState::NotStarted)
        return make_error("InstanceStart: the requested operation is not supported after "
                          "starting the microVM (state: {})",
                          vm_state_name(m_state));
    std::unique_ptr<gdb::GdbServer> stub;
    if (!gdb_socket_path.empty()) {
        const gdb::GdbAddress address =
            TRY_CONTEXT(gdb::parse_gdb_address("unix:" + gdb_socket_path), "InstanceStart");
        stub = TRY_CONTEXT(gdb::GdbServer::create(address), "InstanceStart");
    }
    m_machine = TRY_CONTEXT(Machine::create(config, m_console), "InstanceStart");
    if (stub) {
        stub->start(*m_machine, true);
        m_gdb = std::move(stub);
    }
    m_state = VmState::Running;
    m_thread = std::thread([this] { run_thread(); });
    log::info("VM started");
    if (m_start_observer) m_start_observer();
    return {};
}

void VmController::run_thread() {
    enter_thread_role(ThreadRole::Vmm);
    ExitRequest result = m_machine->run(); // m_machine is only reset by this thread, below
    if (m_gdb) m_gdb->finish(result.status);
    std::lock_guard lock(m_mutex);
    m_final_counters = all_counters(*m_machine);
    m_gdb.reset();     // before its Machine
    m_machine.reset(); // every vCPU thread is joined already; this frees memory and fds
    m_exit = result;
    m_state = VmState::Stopped;
    m_state_changed.notify_all();
    std::uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(m_stopped_event.get(), &one, sizeof(one));
    log::info("VM stopped: {} (status {})", result.message, result.status);
}

Result<void> VmController::require_started(std::string_view action) const {
    if (m_state == VmState::NotStarted)
        return make_error("{}: the requested operation is not supported before starting the "
                          "microVM",
                          action);
    if (m_state == VmState::Stopped) return make_error("{}: the microVM has stopped", action);
    return {};
}

Result<void> VmController::create_snapshot(const std::string& state_path,
                                           const std::string& memory_path) {
    std::lock_guard lock(m_mutex);
    if (m_state != VmState::Paused)
        return make_error("snapshot/create: the microVM must be paused to take a snapshot "
                          "(state: {})",
                          vm_state_name(m_state));
    // The vCPUs stay parked while the lock is held: resume() waits for it.
    TRY_CONTEXT(m_machine->save_snapshot(state_path, memory_path), "snapshot/create");
    return {};
}

Result<void> VmController::create_diff_snapshot(const std::string& state_path,
                                                const std::string& memory_path) {
    std::lock_guard lock(m_mutex);
    if (m_state != VmState::Paused)
        return make_error("snapshot/create: the microVM must be paused to take a snapshot "
                          "(state: {})",
                          vm_state_name(m_state));
    TRY_CONTEXT(m_machine->save_diff_snapshot(state_path, memory_path), "snapshot/create");
    return {};
}

Result<void> VmController::send_migration(const std::string& url) {
    std::lock_guard lock(m_mutex);
    TRY(require_started("vm.send-migration"));
    // The lock is held throughout: no pause, resume or snapshot can interleave with the
    // rounds. On success the machine has asked to exit; run_thread then reports Stopped.
    // The statistics stay in the machine and reach the metrics with its final counters.
    (void)TRY_CONTEXT(m_machine->send_migration(url), "vm.send-migration");
    return {};
}

Result<void> VmController::receive_migration(const std::string& url) {
    std::lock_guard lock(m_mutex);
    if (m_state != VmState::NotStarted)
        return make_error("vm.receive-migration: only allowed before a microVM started (state: "
                          "{})",
                          vm_state_name(m_state));
    // Blocks until a source connected and sent its VM; nothing runs before it is complete.
    m_machine =
        TRY_CONTEXT(Machine::receive_migration(url, m_console, false), "vm.receive-migration");
    m_state = VmState::Running;
    m_machine->start(); // as in load_snapshot: the guest runs on before run_thread is scheduled
    m_thread = std::thread([this] { run_thread(); });
    log::info("VM received from {} (running)", url);
    if (m_start_observer) m_start_observer();
    return {};
}

Result<void> VmController::load_snapshot(const std::string& state_path,
                                         const std::string& memory_path, bool resume) {
    std::lock_guard lock(m_mutex);
    if (m_state != VmState::NotStarted)
        return make_error("snapshot/load: loading a snapshot is only allowed before a microVM "
                          "started (state: {})",
                          vm_state_name(m_state));
    // Everything is checked and loaded before a vCPU thread exists: on error nothing runs.
    m_machine =
        TRY_CONTEXT(Machine::restore(state_path, memory_path, m_console, !resume), "snapshot/load");
    m_state = resume ? VmState::Running : VmState::Paused;
    // The vCPU threads start from here, not from run_thread: one thread hop (and scheduling
    // delay) fewer before the restored guest's first instruction.
    m_machine->start();
    m_thread = std::thread([this] { run_thread(); });
    log::info("VM restored from {} ({})", state_path, resume ? "running" : "paused");
    if (m_start_observer) m_start_observer();
    return {};
}

Result<void> VmController::pause() {
    std::lock_guard lock(m_mutex);
    TRY(require_started("pause"));
    // Holding the lock while vCPUs park is safe: Machine::pause also returns when the VM
    // stops, and run_thread takes the lock only after Machine::run has returned.
    m_machine->pause();
    m_state = VmState::Paused;
    m_state_changed.notify_all();
    log::info("VM paused");
    return {};
}

Result<void> VmController::resume() {
    std::lock_guard lock(m_mutex);
    TRY(require_started("resume"));
    m_machine->resume();
    m_state = VmState::Running;
    m_state_changed.notify_all();
    log::info("VM resumed");
    return {};
}

Result<void> VmController::wake() {
    std::lock_guard lock(m_mutex);
    TRY(require_started("vessel/wake"));
    TRY_CONTEXT(m_machine->wake_from_sleep("API request"), "vessel/wake");
    return {};
}

Result<void> VmController::send_ctrl_alt_del() {
    std::lock_guard lock(m_mutex);
    TRY(require_started("SendCtrlAltDel"));
    m_machine->keyboard_controller().send_ctrl_alt_del();
    return {};
}

void VmController::stop(int status, std::string reason) {
    std::unique_lock lock(m_mutex);
    if (m_state == VmState::Running || m_state == VmState::Paused)
        m_machine->request_exit({ExitRequest::Kind::UserQuit, status, std::move(reason)});
    if (m_state == VmState::NotStarted) return;
    m_state_changed.wait(lock, [this] { return m_state == VmState::Stopped; });
}

ExitRequest VmController::wait() {
    std::unique_lock lock(m_mutex);
    m_state_changed.wait(lock, [this] { return m_state == VmState::Stopped; });
    return *m_exit;
}

std::optional<ExitRequest> VmController::exit_request() const {
    std::lock_guard lock(m_mutex);
    return m_exit;
}

std::optional<VmController::HostRange> VmController::guest_ram_mapping() const {
    std::lock_guard lock(m_mutex);
    if (!m_machine) return std::nullopt;
    const GuestMemory& memory = m_machine->memory();
    return HostRange{reinterpret_cast<std::uintptr_t>(memory.host_base()), memory.size()};
}

VmCounters VmController::counters() const {
    std::lock_guard lock(m_mutex);
    if (!m_machine) return m_final_counters;
    return all_counters(*m_machine);
}

std::size_t VmController::enqueue_console_input(std::span<const std::uint8_t> bytes) {
    std::lock_guard lock(m_mutex);
    if (!m_machine || m_state == VmState::Stopped) return 0;
    return m_machine->enqueue_console_input(bytes);
}

Result<void> VmController::set_balloon_target(std::uint32_t mib) {
    std::lock_guard lock(m_mutex);
    TRY(require_started("balloon"));
    virtio::VirtioBalloon* balloon = m_machine->balloon();
    if (balloon == nullptr) return make_error("balloon: {}", balloon_not_found);
    if ((std::uint64_t{mib} << 20) > m_machine->memory().size())
        return make_error("balloon: {} (amount_mib {} is above the guest's {} MiB)",
                          balloon_too_large, mib, m_machine->memory().size() >> 20);
    if (!balloon->active()) return make_error("balloon: {}", balloon_not_active);
    balloon->set_target_pages(
        static_cast<std::uint32_t>((std::uint64_t{mib} << 20) / virtio::VirtioBalloon::page_size));
    log::info("balloon: target {} MiB", mib);
    return {};
}

Result<void> VmController::set_balloon_stats_interval(std::uint32_t seconds) {
    std::lock_guard lock(m_mutex);
    TRY(require_started("balloon/statistics"));
    virtio::VirtioBalloon* balloon = m_machine->balloon();
    if (balloon == nullptr) return make_error("balloon/statistics: {}", balloon_not_found);
    TRY_CONTEXT(balloon->set_stats_interval(seconds), "balloon/statistics");
    return {};
}

std::optional<BalloonConfig> VmController::balloon_config() const {
    std::lock_guard lock(m_mutex);
    const virtio::VirtioBalloon* balloon = m_machine ? m_machine->balloon() : nullptr;
    if (balloon == nullptr) return std::nullopt;
    const std::uint64_t target_bytes =
        std::uint64_t{balloon->target_pages()} * virtio::VirtioBalloon::page_size;
    return BalloonConfig{static_cast<std::uint32_t>(target_bytes >> 20),
                         balloon->options().deflate_on_oom, balloon->stats_interval(),
                         balloon->options().free_page_reporting};
}

Result<BalloonStatus> VmController::balloon_status() const {
    std::lock_guard lock(m_mutex);
    TRY(require_started("balloon/statistics"));
    const virtio::VirtioBalloon* balloon = m_machine->balloon();
    if (balloon == nullptr) return make_error("balloon/statistics: {}", balloon_not_found);
    if (balloon->stats_interval() == 0)
        return make_error("balloon/statistics: {}", balloon_stats_off);
    BalloonStatus status{
        balloon->target_pages(), balloon->actual_pages(), balloon->stats_interval(), {}};
    if (auto statistics = balloon->statistics()) {
        for (std::size_t tag = 0; tag < virtio::BalloonStatistics::count; ++tag)
            if (statistics->values[tag])
                status.statistics.emplace_back(virtio::BalloonStatistics::names[tag],
                                               *statistics->values[tag]);
    }
    return status;
}

} // namespace vessel::api
