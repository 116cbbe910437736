// Machine: one VM assembled from a MachineConfig (memory, buses, devices, engine, vCPU threads).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "devices/legacy/acpi_pm_timer.hpp"
#include "devices/legacy/acpi_power.hpp"
#include "devices/legacy/cmos_rtc.hpp"
#include "devices/legacy/debug_exit.hpp"
#include "devices/legacy/fw_cfg.hpp"
#include "devices/legacy/i8042.hpp"
#include "devices/legacy/uart_16550.hpp"
#include "devices/pci/pci_bus.hpp"
#include "devices/pci/pci_host_bridge.hpp"
#include "devices/pseudo/guest_signal.hpp"
#include "devices/virtio/balloon/virtio_balloon.hpp"
#include "devices/virtio/virtio_console.hpp"
#include "devices/virtio/virtio_net.hpp"
#include "devices/virtio/virtio_pci_device.hpp"
#include "devices/virtio/virtio_rng.hpp"
#include "engine/hypervisor.hpp"
#include "vm/console_output.hpp"
#include "vm/early_vcpu_threads.hpp"
#include "vm/machine_config.hpp"
#include "vm/panic_detector.hpp"

namespace vessel {

namespace snapshot {
class SnapshotFile;
}
namespace migration {
class StreamWriter;
}

/// A built VM. create() does all the fallible work; run() starts one host thread per vCPU and
/// returns when the guest or the host ends the VM, with every thread joined.
class Machine final : public ExitSink {
  public:
    /// Builds the VM; console_output receives the bytes the guest writes to COM1 (and to the
    /// virtio console when the config asks for one).
    static Result<std::unique_ptr<Machine>> create(const MachineConfig& config,
                                                   ConsoleOutput console_output);
    ~Machine() override;

    /// Runs the guest to its end; returns why it ended. Starts the vCPU threads unless start()
    /// did.
    ExitRequest run();
    /// Starts the vCPU threads and returns at once (run() then only waits for the end). A
    /// restore's caller uses it to have the guest running before it does anything else: each
    /// thread hop before the first instruction costs a scheduling delay on a busy host. Not
    /// from a vCPU thread; a second call does nothing.
    void start();
    /// Builds the VM saved in snapshot `state_path` with guest RAM mapped privately and lazily
    /// from `memory_path`; `paused` keeps its vCPUs parked until resume(). Every check (format,
    /// checksum, memory file size, devices) happens before anything runs: an error leaves
    /// nothing behind. Errors name the file and the problem.
    static Result<std::unique_ptr<Machine>> restore(const std::string& state_path,
                                                    const std::string& memory_path,
                                                    ConsoleOutput console_output, bool paused);
    /// Saves the paused VM: device back-ends are quiesced, the state goes to `state_path` and
    /// guest RAM to `memory_path` (docs/SNAPSHOT_FORMAT.md). Only while paused.
    Result<void> save_snapshot(const std::string& state_path, const std::string& memory_path);
    /// What the last save or restore measured (bytes, milliseconds); zeros before any.
    struct SnapshotStatistics {
        std::uint64_t state_bytes{0};
        std::uint64_t memory_bytes{0};
        double create_milliseconds{0};
        double restore_milliseconds{0};
    };
    SnapshotStatistics snapshot_statistics() const { return m_snapshot_statistics; }
    /// Like save_snapshot, but the memory file is a Diff: only the pages written since the
    /// last snapshot (or since the VM was built, restored or received), at their offsets in a
    /// sparse file (docs/SNAPSHOT_FORMAT.md). Only while paused.
    Result<void> save_diff_snapshot(const std::string& state_path, const std::string& memory_path);

    // ---- live migration (vm/migration/machine_migration.cpp) ----
    /// What the last migration measured.
    struct MigrationStatistics {
        std::uint32_t rounds{0};         ///< pre-copy rounds plus the stop-and-copy
        std::uint64_t pages_sent{0};     ///< including pages sent again in later rounds
        std::uint64_t bytes_sent{0};     ///< on the stream, headers included
        double downtime_milliseconds{0}; ///< vCPUs parked here until the destination runs
        double total_milliseconds{0};
        std::uint32_t throttle_percent{0}; ///< share of time the vCPUs were parked at the end
    };
    /// Sends the running (or paused) VM to a `vessel` receiving at `url` (unix:PATH,
    /// tcp:HOST:PORT): rounds of dirty pages while the guest runs, then a stop-and-copy of the
    /// rest and the device state. On success the destination runs the VM and this one ends
    /// (run() returns); on any failure this VM runs on as before. Not from a vCPU thread.
    Result<MigrationStatistics> send_migration(const std::string& url);
    /// Listens on `url`, takes one source's VM and builds it (not running until run(); parked
    /// until resume() when `paused`). A stream cut or refused leaves nothing behind.
    static Result<std::unique_ptr<Machine>>
    receive_migration(const std::string& url, ConsoleOutput console_output, bool paused);
    MigrationStatistics migration_statistics() const { return m_migration_statistics; }

    /// Ends the VM (first request wins). Any thread.
    void request_exit(ExitRequest request) override;

    /// Stops every vCPU at an instruction boundary and returns once all are parked. Any thread
    /// but a vCPU thread; no effect when already paused or stopping.
    void pause();
    /// Lets paused vCPUs continue.
    void resume();
    bool paused() const;

    // ---- ACPI S3, suspend to RAM (vm/machine_sleep.cpp) ----
    /// Whether the guest is suspended to RAM: every vCPU parked, devices keep their state.
    bool suspended() const;
    /// Wakes a suspended guest (`reason` goes to the log): PM1 WAK_STS is set, the BSP restarts
    /// at the FACS firmware waking vector and the APs wait for INIT-SIPI. Any thread; fails
    /// when the guest is not suspended.
    Result<void> wake_from_sleep(std::string_view reason);

    /// Guest RAM (its host mapping is host_base() .. + size()).
    const GuestMemory& memory() const { return m_memory; }
    Uart16550& serial() { return *m_serial; }
    /// Host console input: to the virtio console when configured, else to COM1. Returns how
    /// many bytes were accepted (any thread).
    std::size_t enqueue_console_input(std::span<const std::uint8_t> bytes);
    const Uart16550& serial() const { return *m_serial; }
    /// Milliseconds from VM creation to the guest's boot-complete signal, or -1 before it.
    double boot_milliseconds() const { return m_guest_signal->boot_milliseconds(); }
    /// Whether the default guest's `--exec` console is ready for piped input (any thread).
    bool guest_input_ready() const { return m_guest_signal->input_ready(); }
    /// Port-I/O and MMIO accesses the guest made (VM exits on KVM).
    const Bus& io_bus() const { return m_io_bus; }
    const Bus& mmio_bus() const { return m_mmio_bus; }
    I8042& keyboard_controller() { return *m_i8042; }
    EngineKind engine() const { return m_vm->kind(); }
    /// What the engine's in-kernel shortcuts (KVM ioeventfd doorbells, irqfd MSIs) handled.
    EngineCounters engine_counters() const { return m_vm->engine_counters(); }
    /// The virtio-balloon device, or null when the VM has none. Its host-side methods are
    /// thread-safe.
    virtio::VirtioBalloon* balloon() const { return m_balloon; }

    // ---- debugging (vm/machine_debug.cpp): what a GDB stub drives ----
    /// Told on the stopping vCPU's thread when a debugged vCPU stops (breakpoint, watchpoint,
    /// step); the VM is then paused: the other vCPUs are being parked.
    using DebugStopListener = std::function<void(std::uint32_t vcpu, const DebugEvent& event)>;
    void set_debug_stop_listener(DebugStopListener listener);
    /// Makes run() park every vCPU before its first instruction, until resume().
    void start_paused();
    /// Waits until every running vCPU is parked (after pause(), a debug stop or start_paused);
    /// false when the VM is stopping instead.
    bool wait_until_parked();
    std::uint32_t vcpu_count() const { return static_cast<std::uint32_t>(m_vcpus.size()); }
    /// Register state of a parked vCPU (while paused only).
    Result<x86::CpuState> vcpu_state(std::uint32_t index);
    Result<void> set_vcpu_state(std::uint32_t index, const x86::CpuState& state);
    /// Breakpoints, watchpoints and stepping of a parked vCPU for its next run.
    Result<void> set_guest_debug(std::uint32_t index, const GuestDebug& debug);
    /// SSE/AVX registers of a parked vCPU (while paused only; the engine may not offer them).
    Result<VectorRegisters> vcpu_vector_registers(std::uint32_t index);
    Result<void> set_vcpu_vector_registers(std::uint32_t index, const VectorRegisters& registers);
    /// Guest RAM for a debugger's reads and writes (while paused).
    GuestMemory& debug_memory() { return m_memory; }

  private:
    /// Guest RAM for `config`: a memfd for the software engine (its translated user code maps
    /// pages again, soft::PageAliases) unless page sharing asks for private RAM, which KSM
    /// needs; private RAM too when the memfd cannot be made (a file size limit), said in the log.
    static Result<GuestMemory> create_memory(const MachineConfig& config, bool soft_engine);
    /// A debugged vCPU stopped: pauses the VM, tells the listener, parks this vCPU.
    bool debug_stop(Vcpu& vcpu, const DebugEvent& event);

    Machine(const MachineConfig& config, GuestMemory memory)
        : m_config(config), m_memory(std::move(memory)) {}
    Result<void> build(ConsoleOutput console_output);
    /// Like build, for a restore: no kernel or ACPI tables (they are in the restored RAM), then
    /// every device, the platform and the vCPUs load their saved state.
    Result<void> build_restored(ConsoleOutput console_output, const snapshot::SnapshotFile& state);
    /// Why this VM's state cannot be saved now (engine, devices), or nothing.
    Result<void> check_snapshot_allowed() const;
    Result<void> save_snapshot_files(const std::string& state_path, const std::string& memory_path,
                                     bool diff);
    /// Every section of the state file (vCPUs and devices must be quiet: paused, quiesced).
    Result<void> encode_state(snapshot::SnapshotFile& file);
    void quiesce_devices();
    void resume_devices();
    /// Takes guest RAM's dirty log, parking the vCPUs around it when they run.
    std::vector<std::uint64_t> take_dirty_pages(bool vcpus_running);
    Result<std::uint64_t> send_pages(migration::StreamWriter& stream,
                                     const std::vector<std::uint64_t>& pages, bool skip_zero,
                                     const std::function<void()>& between);
    Result<void> add_legacy_devices();
    Result<void> load_boot_image();
    /// Every guest console byte (COM1 or virtio) passes here: to the host, to the panic watch.
    void console_output(std::span<const std::uint8_t> bytes);
    /// The PCI host bridge and the virtio devices on bus 0.
    Result<void> add_pci_devices();
    /// Adds a virtio device behind a PCI transport on the next slot.
    Result<void> add_virtio_device(std::unique_ptr<virtio::VirtioDevice> device);
    void vcpu_thread(Vcpu& vcpu, std::optional<x86::CpuState> boot_state);
    bool handle_vcpu_exit(Vcpu& vcpu, const VcpuExit& exit);
    void wait_until_stopping();
    /// Stops and joins the vCPU threads (run()'s end, or a started Machine discarded unrun).
    void join_vcpu_threads();
    /// Parks the calling vCPU thread while paused; returns false when the VM is stopping.
    bool park_while_paused();
    /// The guest wrote SLP_TYP=S3|SLP_EN (on that vCPU's thread): parks every vCPU.
    void suspend_to_ram();
    /// The RTC alarm fired with AIE: PM1 RTC_STS, and a wake when RTC_EN allows it.
    void rtc_alarm();
    /// After a park: if the guest woke from S3 since `wakes_seen`, resets `vcpu` to its resume
    /// state. False when that failed (the VM is then ending).
    bool reset_if_woken(Vcpu& vcpu, std::uint64_t& wakes_seen);
    /// Waits for the VM's end; meanwhile runs the RTC's alarm once per poll interval.
    static constexpr std::chrono::milliseconds rtc_poll_interval{200};

    MachineConfig m_config;
    GuestMemory m_memory;
    Bus m_io_bus{"port I/O"};
    Bus m_mmio_bus{"MMIO"};
    std::unique_ptr<Hypervisor> m_hypervisor;
    std::unique_ptr<Vm> m_vm;
    ConsoleOutput m_console_sink;
    std::mutex m_console_mutex; ///< serializes console_output between the two consoles
    std::unique_ptr<Uart16550> m_serial;
    virtio::VirtioConsole* m_virtio_console{nullptr}; ///< owned by m_virtio_devices
    virtio::VirtioBalloon* m_balloon{nullptr};        ///< owned by m_virtio_devices
    std::unique_ptr<DebugExit> m_debug_exit;
    std::unique_ptr<I8042> m_i8042;
    std::unique_ptr<CmosRtc> m_rtc;
    std::unique_ptr<FwCfg> m_fw_cfg;
    std::unique_ptr<GuestSignal> m_guest_signal;
    std::unique_ptr<AcpiPower> m_acpi_power;
    std::unique_ptr<ResetControl> m_reset_control;
    std::unique_ptr<AcpiPmTimer> m_acpi_pm_timer;
    std::unique_ptr<pci::PciBus> m_pci_bus;
    std::unique_ptr<pci::PciHostBridge> m_host_bridge;
    // Devices before their transports: a transport resets its device when destroyed.
    std::vector<std::unique_ptr<virtio::VirtioDevice>> m_virtio_devices;
    std::vector<std::unique_ptr<virtio::VirtioPciDevice>> m_virtio_transports;
    PanicDetector m_panic_detector{*this};
    std::vector<std::unique_ptr<Vcpu>> m_vcpus;
    x86::CpuState m_boot_state;
    bool m_restored{false}; ///< vCPUs start from their loaded state, not m_boot_state
    /// When restore() began (for the "first guest instruction" time); unset otherwise.
    std::optional<std::chrono::steady_clock::time_point> m_restore_started;
    SnapshotStatistics m_snapshot_statistics;
    /// vCPU threads a restore started while it loaded (handed their vCPUs by start()).
    std::unique_ptr<EarlyVcpuThreads> m_early_vcpu_threads;
    bool m_early_vcpu_threads_used{false};
    /// When start() began handing out or creating the vCPU threads (a restore's log).
    std::chrono::steady_clock::time_point m_vcpu_threads_started;
    MigrationStatistics m_migration_statistics;

    mutable std::mutex m_mutex;
    std::condition_variable m_stopped;
    std::condition_variable m_pause_changed;
    bool m_stopping{false};
    std::atomic<bool> m_console_closed{
        false}; ///< set with m_stopping: a dying guest prints nothing
    bool m_paused{false};
    bool m_suspended{false};      ///< ACPI S3: vCPUs parked until wake_from_sleep()
    std::uint64_t m_wakes{0};     ///< completed S3 wakes; vCPU threads compare theirs
    x86::CpuState m_waking_state; ///< the BSP's resume state of the last wake
    std::uint32_t m_parked{0};    ///< vCPU threads currently parked by pause()
    std::uint32_t m_running{0};   ///< vCPU threads that have not finished
    std::optional<ExitRequest> m_exit;
    bool m_started{false};              ///< run() has counted its vCPU threads
    std::vector<std::thread> m_threads; ///< the vCPU threads start() began, joined by run()
    DebugStopListener m_debug_stop_listener;
};

} // namespace vessel
