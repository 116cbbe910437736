// VmController: owns the VM and its run thread and enforces the lifecycle state machine.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/vm_state.hpp"
#include "base/exit_request.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "vm/console_output.hpp"
#include "vm/machine_config.hpp"

namespace vessel {
class Machine;
namespace gdb {
class GdbServer;
}
} // namespace vessel

namespace vessel::api {

/// Counters read from the running VM for metrics.
struct VmCounters {
    std::uint64_t serial_transmitted_bytes{0};
    double boot_milliseconds{-1}; ///< guest boot-complete signal (GuestSignal), -1 before it
    std::uint64_t io_reads{0};    ///< guest port-I/O reads (KVM: KVM_EXIT_IO in)
    std::uint64_t io_writes{0};
    std::uint64_t mmio_reads{0}; ///< guest MMIO reads outside RAM (KVM: KVM_EXIT_MMIO)
    std::uint64_t mmio_writes{0};
    std::uint64_t doorbell_rings{0}; ///< device notifies taken by KVM ioeventfd (no exit)
    std::uint64_t routed_msis{0};    ///< MSIs raised through KVM irqfd routes
    // The last snapshot this VM saved, and the restore it came from (0 for none).
    std::uint64_t snapshot_state_bytes{0};
    std::uint64_t snapshot_memory_bytes{0}; ///< bytes of non-zero pages in the memory file
    double snapshot_create_milliseconds{0};
    double snapshot_restore_milliseconds{0};
    // The last live migration this VM made (0 for none).
    std::uint32_t migration_rounds{0};
    std::uint64_t migration_bytes_sent{0};
    double migration_downtime_milliseconds{0};
    double migration_total_milliseconds{0};
    // virtio-balloon (totals; zero without a balloon)
    std::uint64_t balloon_inflated_pages{0};
    std::uint64_t balloon_deflated_pages{0};
    std::uint64_t balloon_reported_pages{0}; ///< free pages returned by free page reporting
    std::uint64_t balloon_stats_updates{0};
    std::uint64_t balloon_invalid_pfns{0};   ///< outside guest RAM, ignored
    std::uint64_t balloon_duplicate_pfns{0}; ///< already inflated / not inflated, ignored
    std::uint64_t balloon_malformed_buffers{0};
};

/// The running VM's balloon as the API shows it (Firecracker's BalloonStats).
struct BalloonStatus {
    std::uint32_t target_pages{0}; ///< 4 KiB pages
    std::uint32_t actual_pages{0}; ///< what the driver holds now
    std::uint32_t stats_interval_s{0};
    /// The driver's last statistics by Firecracker's field names (only those it sent).
    std::vector<std::pair<std::string, std::uint64_t>> statistics;
};

/// Every transition goes through here, so the API and the config-file path obey the same
/// rules: start once, pause/resume/Ctrl-Alt-Del only while the VM runs, and when the VM ends
/// (guest exit, error or stop()) its threads are joined and its memory and fds released
/// before the state reads Stopped. All methods are safe from any thread.
class VmController {
  public:
    /// console receives the guest's serial output.
    static Result<std::unique_ptr<VmController>> create(ConsoleOutput console);
    /// Stops the VM if it still runs and joins its thread.
    ~VmController();

    VmState state() const;
    /// Called (under the controller's lock: it must not call back) each time a VM starts.
    void set_start_observer(std::function<void()> observer) {
        m_start_observer = std::move(observer);
    }
    /// Builds the VM from config and starts its vCPUs on a thread of its own; with a
    /// `gdb_socket_path` a GDB stub listens there and the vCPUs wait for the debugger.
    Result<void> start(const MachineConfig& config, const std::string& gdb_socket_path = {});
    /// Parks every vCPU at an instruction boundary; returns once they are all parked.
    Result<void> pause();
    Result<void> resume();
    Result<void> send_ctrl_alt_del();
    /// PUT /vessel/wake: wakes a guest suspended to RAM (ACPI S3); fails when it is not.
    Result<void> wake();
    /// PUT /snapshot/create: saves the paused VM (state file and memory file).
    Result<void> create_snapshot(const std::string& state_path, const std::string& memory_path);
    /// PUT /snapshot/load: builds the VM from a snapshot (only before a VM was started) and
    /// runs it when `resume`, else leaves it Paused. A refused load leaves NotStarted.
    Result<void> load_snapshot(const std::string& state_path, const std::string& memory_path,
                               bool resume);
    /// PUT /snapshot/create with snapshot_type Diff: only pages written since the last snapshot.
    Result<void> create_diff_snapshot(const std::string& state_path,
                                      const std::string& memory_path);
    /// PUT /vm.send-migration: sends the running or paused VM to `url`; on success the VM
    /// ends here (Stopped), on failure it runs on.
    Result<void> send_migration(const std::string& url);
    /// PUT /vm.receive-migration: waits for a source at `url` (only before a VM was started)
    /// and runs the VM it sends.
    Result<void> receive_migration(const std::string& url);
    /// Ends a running or paused VM (as the user) and waits until it is torn down.
    void stop(int status, std::string reason);
    /// Blocks until the state is Stopped; returns why the VM ended.
    ExitRequest wait();
    /// Readable (eventfd) once the VM has stopped, for poll().
    int stopped_fd() const { return m_stopped_event.get(); }
    /// Why the VM ended, once Stopped.
    std::optional<ExitRequest> exit_request() const;
    VmCounters counters() const;
    /// Where this process maps the running VM's guest RAM, so a caller can check that it is
    /// released after the VM ends; nullopt when no VM is built.
    struct HostRange {
        std::uintptr_t start;
        std::uint64_t size;
    };
    std::optional<HostRange> guest_ram_mapping() const;
    /// Offers console input to the guest's serial port; returns how many bytes it took (0 when
    /// no VM runs).
    std::size_t enqueue_console_input(std::span<const std::uint8_t> bytes);

    /// PATCH /balloon after boot: a new target, told to the guest's driver. Fails (with
    /// Firecracker's messages) before boot, without a balloon, or before the driver is up.
    Result<void> set_balloon_target(std::uint32_t mib);
    /// PATCH /balloon/statistics: a new interval; statistics cannot be switched on or off.
    Result<void> set_balloon_stats_interval(std::uint32_t seconds);
    /// GET /balloon/statistics; fails without a balloon or when its statistics are off.
    Result<BalloonStatus> balloon_status() const;
    /// The VM's balloon as PUT /balloon describes one (its current target and interval), or
    /// nothing before a VM exists or without a balloon: what a restored or received VM brought.
    std::optional<BalloonConfig> balloon_config() const;

  private:
    VmController(ConsoleOutput console, UniqueFd stopped_event);
    void run_thread();
    Result<void> require_started(std::string_view action) const;

    ConsoleOutput m_console;
    std::function<void()> m_start_observer;
    UniqueFd m_stopped_event;
    mutable std::mutex m_mutex;
    std::condition_variable m_state_changed;
    VmState m_state{VmState::NotStarted};
    std::unique_ptr<Machine> m_machine;
    std::unique_ptr<gdb::GdbServer> m_gdb; ///< the stub of gdb_socket_path, while the VM lives
    std::thread m_thread;
    std::optional<ExitRequest> m_exit;
    VmCounters m_final_counters; ///< counters as the VM ended, after it is torn down
};

} // namespace vessel::api
