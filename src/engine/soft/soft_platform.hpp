// SoftPlatform: what the software engine needs of the interrupt and timer hardware that KVM
// keeps in the kernel (on a PC: platform/pc builds it from PIC, PIT, IOAPIC and local APICs).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "base/result.hpp"
#include "base/state_archive.hpp"
#include "devices/bus.hpp"
#include "devices/interrupt_sink.hpp"
#include "engine/soft/startup_request.hpp"

namespace vessel::soft {

/// Owned by the software engine's Vm, built by the layer above (the engine never names the
/// chips). Devices see it only as an InterruptSink; the interpreter calls the per-CPU methods
/// from that vCPU's own thread.
class SoftPlatform : public InterruptSink, public MsiSink {
  public:
    /// The guest TSC frequency every platform keeps (tsc_frequency_hz()); CPUID 0x15/0x16
    /// report it.
    static constexpr std::uint64_t guest_tsc_frequency_hz = 2'000'000'000;
    /// The local APIC timer's bus clock, reported as CPUID 0x15's crystal frequency.
    static constexpr std::uint64_t apic_bus_frequency_hz = 1'000'000'000;

    virtual ~SoftPlatform() = default;

    // Device side (any thread): ISA IRQ 0-15 go to PIC and IOAPIC pins, 16-23 to the IOAPIC.
    void set_irq_level(std::uint32_t gsi, bool level) override = 0;
    /// Device side (any thread): a PCI MSI write, delivered to the local APICs it names.
    void signal_msi(std::uint64_t address, std::uint32_t data) override = 0;

    // ---- Called by vCPU `cpu` on its own thread ----

    /// Advances timers (PIT, this CPU's APIC timer) to the current time; cheap when none is due.
    virtual void poll(std::uint32_t cpu) = 0;
    /// True when a maskable interrupt is ready for this CPU (local APIC, or for the BSP the
    /// PIC through LINT0 in ExtINT mode / APIC disabled). Ignores RFLAGS.IF: the CPU checks it.
    virtual bool has_interrupt(std::uint32_t cpu) = 0;
    /// The interrupt-acknowledge cycle: returns the vector and marks it in service.
    virtual std::uint8_t acknowledge_interrupt(std::uint32_t cpu) = 0;
    /// Sleeps the calling vCPU until has_interrupt(cpu) would be true, a timer of this CPU is
    /// due, or wake(cpu) is called. Costs no host CPU while idle.
    virtual void wait_for_interrupt(std::uint32_t cpu) = 0;
    /// Ends a wait_for_interrupt(cpu) early (kick, pause, stop). Any thread.
    virtual void wake(std::uint32_t cpu) = 0;

    /// The guest time-stamp counter (shared by all CPUs, monotonic, tsc_frequency_hz()).
    virtual std::uint64_t tsc() const = 0;
    virtual std::uint64_t tsc_frequency_hz() const = 0;

    /// IA32_APIC_BASE (MSR 0x1b). set_ returns false for values that must raise #GP.
    virtual std::uint64_t apic_base(std::uint32_t cpu) const = 0;
    virtual bool set_apic_base(std::uint32_t cpu, std::uint64_t value) = 0;
    /// xAPIC MMIO access (offset within the 4 KiB page at apic_base) while in xAPIC mode.
    virtual std::uint32_t apic_mmio_read(std::uint32_t cpu, std::uint32_t offset) = 0;
    virtual void apic_mmio_write(std::uint32_t cpu, std::uint32_t offset, std::uint32_t value) = 0;
    /// x2APIC MSRs 0x800-0x8ff; return false where the access must raise #GP.
    virtual bool x2apic_msr_read(std::uint32_t cpu, std::uint32_t msr, std::uint64_t& value) = 0;
    virtual bool x2apic_msr_write(std::uint32_t cpu, std::uint32_t msr, std::uint64_t value) = 0;
    /// The local APIC's TPR in any enabled mode (xAPIC or x2APIC), which `mov cr8` reads and
    /// writes (bits 7:4); nullopt without an enabled APIC (CR8 then keeps its own value).
    virtual std::optional<std::uint8_t> task_priority(std::uint32_t) { return std::nullopt; }
    virtual void set_task_priority(std::uint32_t, std::uint8_t) {}
    /// IA32_TSC_DEADLINE (MSR 0x6e0).
    virtual std::uint64_t tsc_deadline(std::uint32_t cpu) const = 0;
    virtual void set_tsc_deadline(std::uint32_t cpu, std::uint64_t value) = 0;

    // ---- Added for SMP start-up and NMIs (default: none; the real platform overrides) ----

    /// The oldest INIT / start-up IPI sent to this CPU and not yet taken (see StartupRequest).
    /// wait_for_interrupt(cpu) also returns when one is pending.
    virtual std::optional<StartupRequest> take_startup_request(std::uint32_t) { return {}; }
    /// True (once) when an NMI was sent to this CPU through its local APIC.
    virtual bool take_nmi(std::uint32_t) { return false; }

    // ---- Added for ACPI S3 (default: nothing to reset) ----

    /// Puts this CPU's local interrupt hardware (its local APIC) in its power-on state: the
    /// platform left a sleep state that removed CPU power. The vCPU's thread, not running.
    virtual void reset_cpu(std::uint32_t) {}
    /// Sleeps the calling vCPU, halted with interrupts disabled, until an NMI, INIT or SIPI is
    /// pending for it or wake(cpu) is called. False when the platform cannot deliver those
    /// (the vCPU then ends as halted for good).
    virtual bool wait_for_startup(std::uint32_t) { return false; }
    /// Sleeps a CPU in the wait-for-SIPI state until an INIT or SIPI is pending for it or
    /// wake(cpu) is called. That state blocks NMIs (Intel SDM Vol. 3C, 26.6.2 "Activity State"):
    /// a pending NMI stays pending, for the CPU to take once a SIPI has started it, and does not
    /// end this wait. False when the platform cannot wait so.
    virtual bool wait_for_sipi(std::uint32_t) { return false; }

    // ---- Snapshots (default: not supported) ----

    /// Writes the chips' state and the guest time line; no vCPU runs.
    virtual Result<void> save_snapshot(StateWriter&) {
        return make_error("this platform cannot save its state");
    }
    /// Loads what save_snapshot wrote; guest time continues from the saved instant.
    virtual Result<void> load_snapshot(StateReader&) {
        return make_error("this platform cannot restore its state");
    }
};

/// Builds the platform of a new software-engine VM on its buses (the vm layer supplies one).
using SoftPlatformFactory = std::function<Result<std::unique_ptr<SoftPlatform>>(
    Bus& io_bus, Bus& mmio_bus, std::uint32_t cpu_count)>;

} // namespace vessel::soft
