// Machine: assembly order and the vCPU thread loop.
#include "vm/machine.hpp"

#include <chrono>

#include "arch/x86/acpi_tables.hpp"
#include "backends/block/block_backend_factory.hpp"
#include "base/log.hpp"
#include "base/thread_role.hpp"
#include "devices/virtio/virtio_block.hpp"
#include "devices/virtio/vsock/virtio_vsock.hpp"
#include "memory/host_memory.hpp"
#include "vm/disk_name.hpp"
#include "vm/engine_selection.hpp"
#include "vm/kernel_loading.hpp"
#include "vm/page_sharing.hpp"

namespace vessel {

// The slots max_disks_and_networks leaves: host bridge, entropy, console, vsock, balloon.
static_assert(max_disks_and_networks + 5 == pci::PciBus::slot_count);

Result<GuestMemory> Machine::create_memory(const MachineConfig& config, bool soft_engine) {
    if (soft_engine && !config.page_sharing) {
        auto shared = GuestMemory::create_shared(config.memory_size);
        if (shared) return shared;
        log::info("guest memory: private, so translated user code runs without page aliases: {}",
                  shared.error().message);
    }
    return GuestMemory::create(config.memory_size);
}

Result<std::unique_ptr<Machine>> Machine::create(const MachineConfig& config,
                                                 ConsoleOutput console_output) {
    if (config.cpu_count == 0) return make_error("a VM needs at least one vCPU");
    if (config.disks.size() + config.networks.size() > max_disks_and_networks)
        return make_error("{} disk(s) and {} network interface(s): at most {} together (each is "
                          "a device on PCI bus 0, whose other slots the machine's own devices "
                          "keep)",
                          config.disks.size(), config.networks.size(), max_disks_and_networks);
    TRY(check_input_files(config)); // before the engine: its errors would hide a wrong path
    TRY(check_guest_memory_on_host(config.memory_size));
    warn_about_guest_memory(config.memory_size);
    auto hypervisor = TRY(open_engine(config.engine, config.cpu_model));
    auto memory =
        TRY_CONTEXT(create_memory(config, hypervisor->kind() == EngineKind::Soft), "guest memory");
    if (config.page_sharing) TRY(enable_page_sharing(memory));
    if (config.balloon && (std::uint64_t{config.balloon->target_mib} << 20) > config.memory_size)
        return make_error("balloon: target {} MiB is larger than guest memory ({} MiB)",
                          config.balloon->target_mib, config.memory_size >> 20);
    std::unique_ptr<Machine> machine(new Machine(config, std::move(memory)));
    machine->m_hypervisor = std::move(hypervisor);
    TRY(machine->build(std::move(console_output)));
    return machine;
}

Machine::~Machine() {
    // Threads start() began for a Machine that never ran: they stop before anything goes.
    if (!m_threads.empty()) {
        request_exit({ExitRequest::Kind::UserQuit, exit_status::clean, "the VM was discarded"});
        join_vcpu_threads();
    }
    // Explicit order. The PCI bus unmaps BAR windows of its devices, so it goes while they
    // live. Each transport drops its doorbells, waiting for a ring in progress on the engine's
    // I/O thread (which may be printing through console_output), while everything a ring can
    // reach still exists. The devices go last: a transport resets its device when destroyed.
    m_pci_bus.reset();
    m_virtio_transports.clear();
    m_virtio_devices.clear();
}

Result<void> Machine::build(ConsoleOutput console_output) {
    const auto start = std::chrono::steady_clock::now();
    auto since_start = [&start] {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
    };
    if (!m_hypervisor) m_hypervisor = TRY(open_engine(m_config.engine, m_config.cpu_model));
    m_vm = TRY(m_hypervisor->create_vm(
        VmContext{m_memory, m_io_bus, m_mmio_bus, *this, m_config.cpu_count}));
    const double engine_ready = since_start();
    m_console_sink = std::move(console_output);
    TRY(add_legacy_devices());
    TRY_CONTEXT(add_pci_devices(), "PCI devices");
    const double devices_ready = since_start();
    if (!m_restored) TRY(load_boot_image());
    for (std::uint32_t index = 0; index < m_config.cpu_count; ++index)
        m_vcpus.push_back(TRY_CONTEXT(m_vm->create_vcpu(index), fmt::format("vCPU {}", index)));
    log::debug("build: engine and VM {:.2f} ms, devices {:.2f} ms, {}vCPUs {:.2f} ms", engine_ready,
               devices_ready - engine_ready, m_restored ? "" : "boot image and ",
               since_start() - devices_ready);
    log::info("VM: {} engine, {} vCPU(s), {} MiB, kernel {}", engine_name(m_vm->kind()),
              m_config.cpu_count, m_config.memory_size >> 20, m_config.kernel_path);
    return {};
}

// The kernel and the ACPI tables (a restored VM has them in its saved RAM).
Result<void> Machine::load_boot_image() {
    m_boot_state = TRY(load_kernel(m_memory, m_config));
    x86::PciRootDescription pci{static_cast<std::uint32_t>(pci::PciBus::mmio_window_start),
                                static_cast<std::uint32_t>(pci::PciBus::mmio_window_end - 1),
                                {}};
    for (std::uint32_t slot = 1; slot < pci::PciBus::slot_count; ++slot)
        for (std::uint32_t pin = 0; pin < 4; ++pin)
            pci.routes.push_back({static_cast<std::uint8_t>(slot), static_cast<std::uint8_t>(pin),
                                  pci::PciBus::intx_gsi(slot, pin)});
    TRY(x86::write_acpi_tables(m_memory, m_config.cpu_count, &pci));
    return {};
}

void Machine::console_output(std::span<const std::uint8_t> bytes) {
    if (m_console_closed.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(m_console_mutex);
    m_console_sink(bytes);
    m_panic_detector.feed(bytes);
}

std::size_t Machine::enqueue_console_input(std::span<const std::uint8_t> bytes) {
    // A key press wakes a suspended guest (as a keyboard wakes a PC), and still arrives.
    if (!bytes.empty() && suspended()) (void)wake_from_sleep("console input");
    if (m_virtio_console != nullptr) return m_virtio_console->enqueue_input(bytes);
    return m_serial->enqueue_input(bytes);
}

Result<void> Machine::add_legacy_devices() {
    m_serial = std::make_unique<Uart16550>(
        IrqLine(m_vm.get(), Uart16550::com1_irq),
        [this](std::span<const std::uint8_t> bytes) { console_output(bytes); });
    m_debug_exit = std::make_unique<DebugExit>(*this);
    m_i8042 = std::make_unique<I8042>(IrqLine(m_vm.get(), I8042::keyboard_irq), *this);
    m_rtc = std::make_unique<CmosRtc>(m_config.memory_size);
    m_rtc->set_irq(IrqLine(m_vm.get(), CmosRtc::irq));
    m_rtc->set_alarm_handler([this] { rtc_alarm(); });
    m_fw_cfg = std::make_unique<FwCfg>(m_config.memory_size,
                                       static_cast<std::uint16_t>(m_config.cpu_count));
    m_acpi_power = std::make_unique<AcpiPower>(*this);
    m_acpi_power->set_sci(IrqLine(m_vm.get(), x86::acpi_hardware::sci_irq));
    m_acpi_power->set_sleep_handler([this] { suspend_to_ram(); });
    m_reset_control = std::make_unique<ResetControl>(*this);
    TRY(m_io_bus.insert(*m_acpi_power, x86::acpi_hardware::pm1_event_port, AcpiPower::window_size));
    m_acpi_pm_timer = std::make_unique<AcpiPmTimer>(steady_clock_ns);
    TRY(m_io_bus.insert(*m_acpi_pm_timer, x86::acpi_hardware::pm_timer_port,
                        AcpiPmTimer::window_size));
    TRY(m_io_bus.insert(*m_reset_control, x86::acpi_hardware::reset_port, 1));
    m_guest_signal = std::make_unique<GuestSignal>(*this);
    TRY(m_mmio_bus.insert(*m_guest_signal, GuestSignal::base_address, GuestSignal::window_size));
    TRY(m_io_bus.insert(*m_serial, Uart16550::com1_base, Uart16550::register_count));
    TRY(m_io_bus.insert(*m_debug_exit, DebugExit::port, DebugExit::size));
    TRY(m_io_bus.insert(m_i8042->data_port(), I8042::data_port_number, 1));
    TRY(m_io_bus.insert(m_i8042->command_port(), I8042::command_port_number, 1));
    TRY(m_io_bus.insert(*m_rtc, CmosRtc::base_port, CmosRtc::window_size));
    TRY(m_io_bus.insert(*m_fw_cfg, FwCfg::base_port, FwCfg::window_size));
    return {};
}

Result<void> Machine::add_pci_devices() {
    m_pci_bus = std::make_unique<pci::PciBus>(m_mmio_bus, m_vm.get());
    TRY(m_io_bus.insert(m_pci_bus->address_port(), pci::PciBus::config_address_port, 1));
    TRY(m_io_bus.insert(m_pci_bus->data_port(), pci::PciBus::config_data_port, 4));
    m_host_bridge = std::make_unique<pci::PciHostBridge>();
    TRY(m_pci_bus->add(*m_host_bridge));
    TRY(add_virtio_device(std::make_unique<virtio::VirtioRng>()));
    for (std::size_t index = 0; index < m_config.disks.size(); ++index) {
        const DiskConfig& disk = m_config.disks[index];
        auto backend = TRY(open_block_backend(disk.path, disk.read_only, disk.engine));
        std::string id = disk.id.empty() ? default_disk_name(index) : disk.id;
        TRY(add_virtio_device(
            std::make_unique<virtio::VirtioBlock>(std::move(backend), id, disk.cache)));
    }
    if (m_config.console == ConsoleChoice::Virtio) {
        auto console = std::make_unique<virtio::VirtioConsole>(
            [this](std::span<const std::uint8_t> bytes) { console_output(bytes); });
        m_virtio_console = console.get();
        TRY(add_virtio_device(std::move(console)));
    }
    for (const NetworkConfig& network : m_config.networks) {
        auto backend = TRY(create_net_backend(network));
        if (!backend) continue;
        log::debug("network: {} back-end, guest MAC {}", backend->name(), network.mac.to_string());
        TRY(add_virtio_device(
            std::make_unique<virtio::VirtioNet>(std::move(backend), network.mac)));
    }
    if (m_config.vsock) {
        auto vsock =
            TRY(virtio::VirtioVsock::create(m_config.vsock->guest_cid, m_config.vsock->uds_path));
        log::debug("vsock: guest CID {}, host socket {}", m_config.vsock->guest_cid,
                   m_config.vsock->uds_path);
        TRY(add_virtio_device(std::move(vsock)));
    }
    if (m_config.balloon) {
        const BalloonConfig& config = *m_config.balloon;
        virtio::BalloonOptions options{
            static_cast<std::uint32_t>((std::uint64_t{config.target_mib} << 20) /
                                       virtio::VirtioBalloon::page_size),
            config.deflate_on_oom, config.stats_interval_s, config.free_page_reporting};
        auto balloon = std::make_unique<virtio::VirtioBalloon>(options, m_memory.size());
        m_balloon = balloon.get();
        log::debug("balloon: target {} MiB, deflate on OOM {}, statistics every {} s, free page "
                   "reporting {}",
                   config.target_mib, config.deflate_on_oom, config.stats_interval_s,
                   config.free_page_reporting);
        TRY(add_virtio_device(std::move(balloon)));
    }
    return {};
}

Result<void> Machine::add_virtio_device(std::unique_ptr<virtio::VirtioDevice> device) {
    auto transport =
        std::make_unique<virtio::VirtioPciDevice>(*device, m_memory, m_vm.get(), m_vm.get());
    TRY(m_pci_bus->add(*transport));
    m_virtio_devices.push_back(std::move(device));
    m_virtio_transports.push_back(std::move(transport));
    return {};
}

void Machine::start() {
    {
        std::lock_guard lock(m_mutex);
        if (m_started) return;
        m_running = static_cast<std::uint32_t>(m_vcpus.size());
        m_started = true;
        m_pause_changed.notify_all();
    }
    if (m_restore_started) m_vcpu_threads_started = std::chrono::steady_clock::now();
    for (auto& vcpu : m_vcpus) {
        std::optional<x86::CpuState> boot;
        if (vcpu->index() == 0 && !m_restored) boot = m_boot_state;
        // A restore started its vCPU threads early (EarlyVcpuThreads): they are waiting, their
        // seccomp filter installed, and only need their loop.
        if (m_early_vcpu_threads && m_early_vcpu_threads->available(vcpu->index())) {
            m_early_vcpu_threads_used = true;
            m_threads.push_back(m_early_vcpu_threads->hand_over(
                vcpu->index(), [this, &vcpu, boot] { vcpu_thread(*vcpu, boot); }));
            continue;
        }
        m_threads.emplace_back([this, &vcpu, boot] {
            enter_thread_role(ThreadRole::Vcpu); // its seccomp filter, before any guest code
            vcpu_thread(*vcpu, boot);
        });
    }
    m_early_vcpu_threads.reset(); // the threads not handed a vCPU (none when counts match) end
}

ExitRequest Machine::run() {
    start();
    wait_until_stopping();
    join_vcpu_threads();
    std::lock_guard lock(m_mutex);
    return *m_exit;
}

void Machine::join_vcpu_threads() {
    for (auto& vcpu : m_vcpus)
        vcpu->kick();
    for (auto& thread : m_threads)
        thread.join();
    m_threads.clear();
}

void Machine::request_exit(ExitRequest request) {
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) return;
        m_stopping = true;
        m_console_closed.store(true);
        m_exit = std::move(request);
        m_stopped.notify_all();
        m_pause_changed.notify_all();
    }
    // Stop the guest at once: the request often comes from a device on a vCPU thread, and the
    // guest must not run (or print) past the instruction that ended it.
    for (auto& vcpu : m_vcpus)
        vcpu->kick();
}

void Machine::pause() {
    std::unique_lock lock(m_mutex);
    if (m_paused || m_stopping) return;
    m_paused = true;
    lock.unlock();
    for (auto& vcpu : m_vcpus)
        vcpu->kick();
    lock.lock();
    m_pause_changed.wait(lock, [this] { return m_parked == m_running || m_stopping; });
}

void Machine::resume() {
    std::lock_guard lock(m_mutex);
    m_paused = false;
    m_pause_changed.notify_all();
}

bool Machine::paused() const {
    std::lock_guard lock(m_mutex);
    return m_paused;
}

bool Machine::park_while_paused() {
    std::unique_lock lock(m_mutex);
    if (!m_paused && !m_suspended) return !m_stopping;
    ++m_parked;
    m_pause_changed.notify_all();
    m_pause_changed.wait(lock, [this] { return (!m_paused && !m_suspended) || m_stopping; });
    --m_parked;
    return !m_stopping;
}

void Machine::wait_until_stopping() {
    std::unique_lock lock(m_mutex);
    // The RTC has no thread of its own: its alarm is looked at here, also while the guest
    // sleeps in S3 and no vCPU runs.
    while (!m_stopped.wait_for(lock, rtc_poll_interval, [this] { return m_stopping; })) {
        lock.unlock();
        m_rtc->update();
        lock.lock();
    }
}

void Machine::vcpu_thread(Vcpu& vcpu, std::optional<x86::CpuState> boot_state) {
    struct Finished {
        Machine& machine;
        ~Finished() {
            std::lock_guard lock(machine.m_mutex);
            --machine.m_running;
            machine.m_pause_changed.notify_all();
        }
    } finished{*this};
    if (boot_state) {
        if (auto result = vcpu.set_state(*boot_state); !result) {
            request_exit({ExitRequest::Kind::EngineError, exit_status::engine_error,
                          fmt::format("vCPU {}: {}", vcpu.index(), result.error().message)});
            return;
        }
    }
    if (!park_while_paused()) return; // restored paused, or start_paused(): wait for resume()
    if (m_restore_started && vcpu.index() == 0) {
        const auto since_restore = [this](std::chrono::steady_clock::time_point then) {
            return std::chrono::duration<double, std::milli>(then - *m_restore_started).count();
        };
        // One line, and its time taken first: the log write is not part of the figure.
        const double first = since_restore(std::chrono::steady_clock::now());
        log::debug("restore: first guest instruction at {:.2f} ms (vCPU threads started at "
                   "{:.2f} ms, {})",
                   first, since_restore(m_vcpu_threads_started),
                   m_early_vcpu_threads_used ? "started early" : "created then");
    }
    std::uint64_t wakes_seen = 0;
    {
        std::lock_guard lock(m_mutex);
        wakes_seen = m_wakes;
    }
    while (true) {
        VcpuExit exit = vcpu.run();
        // Cleared before the pause and stop flags are looked at: a kick that comes after this
        // (a pause right after a resume, as migration's rounds and throttling make them) stays
        // set for the next run(). Cleared after them, it was lost and pause() waited forever.
        vcpu.clear_kick();
        if (!handle_vcpu_exit(vcpu, exit)) return;
        if (!reset_if_woken(vcpu, wakes_seen)) return;
    }
}

// Returns whether the vCPU should run again.
bool Machine::handle_vcpu_exit(Vcpu& vcpu, const VcpuExit& exit) {
    switch (exit.kind) {
    case VcpuExit::Kind::Kicked:
        return park_while_paused();
    case VcpuExit::Kind::Shutdown:
        request_exit({ExitRequest::Kind::TripleFault, exit_status::triple_fault,
                      fmt::format("guest triple fault on vCPU {} at rip {:#x}{}{}", vcpu.index(),
                                  exit.rip, exit.message.empty() ? "" : ": ", exit.message)});
        return false;
    case VcpuExit::Kind::Halted:
        if (vcpu.index() == 0) {
            request_exit({ExitRequest::Kind::Halted, exit_status::clean,
                          fmt::format("guest halted with interrupts disabled (hlt after cli) on "
                                      "vCPU 0 at rip {:#x}: nothing can wake it, so the VM ends",
                                      exit.rip)});
        } else {
            log::debug("vCPU {} halted with interrupts disabled", vcpu.index());
        }
        return false; // an application processor that halted for good just ends its thread
    case VcpuExit::Kind::Debug:
        return debug_stop(vcpu, exit.debug);
    case VcpuExit::Kind::Error:
        request_exit(
            {ExitRequest::Kind::EngineError, exit_status::engine_error,
             fmt::format("{} engine error on vCPU {} at rip {:#x}: {}", engine_name(m_vm->kind()),
                         vcpu.index(), exit.rip, exit.message)});
        return false;
    }
    return false;
}

} // namespace vessel
