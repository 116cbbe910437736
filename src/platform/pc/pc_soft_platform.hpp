// PcSoftPlatform: the PC interrupt and timer hardware (PIC, PIT, IOAPIC, local APICs) wired
// together as the software engine's SoftPlatform.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/monotonic_clock.hpp"
#include "engine/soft/soft_platform.hpp"
#include "platform/pc/ioapic.hpp"
#include "platform/pc/local_apic.hpp"
#include "platform/pc/pic_8259.hpp"
#include "platform/pc/pit_8254.hpp"

namespace vessel::pc {

/// The SoftPlatform of a PC: ISA IRQ n drives PIC line n and IOAPIC pin n (IRQ 0 goes to pin
/// 2, the usual interrupt source override), GSI 16-23 only the IOAPIC; the PIC reaches CPU 0
/// when its local APIC is disabled or LINT0 is ExtINT. The guest TSC runs at 2.0 GHz from 0 at
/// creation, derived from the clock, identical on every CPU; the APIC timer bus runs at 1 GHz.
class PcSoftPlatform final : public soft::SoftPlatform {
  public:
    static constexpr std::uint32_t max_cpus = 255; ///< xAPIC IDs 0-254; 0xff is broadcast

    /// Creates the platform and registers the PIC (0x20-0x21, 0xa0-0xa1, ELCR 0x4d0-0x4d1),
    /// PIT (0x40-0x43), system control port B (0x61) on io_bus and the IOAPIC (0xfec00000) on
    /// mmio_bus. The local APICs are reached through the SoftPlatform apic_* methods. The clock
    /// (nanoseconds, monotonic) is injectable for tests.
    static Result<std::unique_ptr<PcSoftPlatform>>
    create(Bus& io_bus, Bus& mmio_bus, std::uint32_t cpu_count, MonotonicClock clock);
    /// What the vm layer hands the software engine: PC platforms on the host's monotonic clock.
    /// `halted_processors_wait`: an application processor halted with interrupts off waits for
    /// NMI/INIT/SIPI (wait_for_startup) as hardware does, which a VM needs for Linux's CPU
    /// offlining and S3; off, it ends as halted for good (unit tests that run a vCPU alone).
    static soft::SoftPlatformFactory factory(bool halted_processors_wait = false);
    ~PcSoftPlatform() override = default;

    void set_irq_level(std::uint32_t gsi, bool level) override;
    void signal_msi(std::uint64_t address, std::uint32_t data) override;
    void poll(std::uint32_t cpu) override;
    bool has_interrupt(std::uint32_t cpu) override;
    std::uint8_t acknowledge_interrupt(std::uint32_t cpu) override;
    void wait_for_interrupt(std::uint32_t cpu) override;
    void wake(std::uint32_t cpu) override;
    std::uint64_t tsc() const override;
    std::uint64_t tsc_frequency_hz() const override { return guest_tsc_frequency_hz; }
    std::uint64_t apic_base(std::uint32_t cpu) const override;
    bool set_apic_base(std::uint32_t cpu, std::uint64_t value) override;
    std::uint32_t apic_mmio_read(std::uint32_t cpu, std::uint32_t offset) override;
    void apic_mmio_write(std::uint32_t cpu, std::uint32_t offset, std::uint32_t value) override;
    bool x2apic_msr_read(std::uint32_t cpu, std::uint32_t msr, std::uint64_t& value) override;
    bool x2apic_msr_write(std::uint32_t cpu, std::uint32_t msr, std::uint64_t value) override;
    std::optional<std::uint8_t> task_priority(std::uint32_t cpu) override;
    void set_task_priority(std::uint32_t cpu, std::uint8_t value) override;
    std::uint64_t tsc_deadline(std::uint32_t cpu) const override;
    void set_tsc_deadline(std::uint32_t cpu, std::uint64_t value) override;
    std::optional<soft::StartupRequest> take_startup_request(std::uint32_t cpu) override;
    bool take_nmi(std::uint32_t cpu) override;
    void reset_cpu(std::uint32_t cpu) override;
    bool wait_for_startup(std::uint32_t cpu) override;
    bool wait_for_sipi(std::uint32_t cpu) override;
    Result<void> save_snapshot(StateWriter& writer) override;
    Result<void> load_snapshot(StateReader& reader) override;

    /// Nanoseconds since creation: the time line of every timer here.
    std::uint64_t now() const;

  private:
    struct Sleeper {
        std::mutex mutex;
        std::condition_variable wakeup;
        bool woken{false}; ///< sticky: a wake() before the wait is not lost
    };

    explicit PcSoftPlatform(MonotonicClock clock);
    Result<void> build(Bus& io_bus, Bus& mmio_bus, std::uint32_t cpu_count);
    /// Routes an APIC-bus message from the IOAPIC (source empty) or a CPU's ICR.
    bool deliver(const ApicMessage& message, std::optional<std::uint32_t> source);
    bool pic_reaches(std::uint32_t cpu) const;
    bool has_work(std::uint32_t cpu);
    std::optional<std::uint64_t> next_deadline(std::uint32_t cpu) const;

    MonotonicClock m_clock;
    std::uint64_t m_origin;
    std::unique_ptr<Pic8259> m_pic;
    std::unique_ptr<Pit8254> m_pit;
    std::unique_ptr<IoApic> m_ioapic;
    std::vector<std::unique_ptr<LocalApic>> m_apics;
    std::vector<std::unique_ptr<Sleeper>> m_sleepers;
    bool m_halted_processors_wait{false}; ///< see factory()
};

} // namespace vessel::pc
