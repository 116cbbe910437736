// LocalApic: one vCPU's local APIC (xAPIC MMIO, x2APIC MSRs, IRR/ISR, timer, IPIs).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "base/monotonic_clock.hpp"
#include "base/state_archive.hpp"
#include "engine/soft/soft_platform.hpp"
#include "engine/soft/startup_request.hpp"
#include "platform/pc/apic_message.hpp"

namespace vessel::pc {

/// The local APIC of Intel SDM Vol. 3A chapter 11 ("Advanced Programmable Interrupt
/// Controller", chapter 10 in older editions), version 0x14 with 6 LVT entries (timer,
/// thermal, performance, LINT0, LINT1, error). The timer runs on a 1 GHz bus clock as in KVM,
/// from the injected clock; TSC-deadline mode uses the platform's TSC frequency.
/// IPIs and level-triggered EOIs leave through callbacks invoked with this APIC unlocked (the
/// platform may deliver an IPI back to this APIC). Thread-safe.
class LocalApic {
  public:
    enum class Mode : std::uint8_t { Disabled, XApic, X2Apic };
    struct Hooks {
        /// An IPI written to the ICR (or the x2APIC SELF IPI register) by this APIC's CPU.
        std::function<void(const ApicMessage&)> send_ipi;
        /// EOI of a level-triggered vector, for the IOAPIC (SDM 11.8.5).
        std::function<void(std::uint8_t vector)> eoi_broadcast;
    };

    static constexpr std::uint64_t default_base = 0xfee00000;
    static constexpr std::uint64_t bus_frequency_hz = soft::SoftPlatform::apic_bus_frequency_hz;
    static constexpr std::uint32_t version = 0x14;
    static constexpr std::uint32_t max_lvt_entry = 5;
    static constexpr std::uint32_t x2apic_msr_first = 0x800;
    static constexpr std::uint32_t x2apic_msr_last = 0x8ff;

    /// clock: nanoseconds on the platform's time line, where the TSC reads
    /// ns * tsc_frequency_hz / 1e9.
    LocalApic(std::uint32_t id, bool bootstrap, std::uint64_t tsc_frequency_hz,
              MonotonicClock clock, Hooks hooks);
    LocalApic(const LocalApic&) = delete;
    LocalApic& operator=(const LocalApic&) = delete;

    std::uint32_t id() const;
    Mode mode() const;
    /// The TPR whatever the mode: CR8 is its bits 7:4 (SDM 10.8.6.1).
    std::uint8_t task_priority() const;
    void set_task_priority(std::uint8_t value);

    /// IA32_APIC_BASE (SDM 11.4.4, 11.12.5); set_ returns false for values that raise #GP.
    std::uint64_t apic_base() const;
    bool set_apic_base(std::uint64_t value);

    /// xAPIC register access at an offset in the 4 KiB page. Unaligned offsets read 0.
    std::uint32_t mmio_read(std::uint32_t offset);
    void mmio_write(std::uint32_t offset, std::uint32_t value);
    /// x2APIC MSR access (0x800-0x8ff); false where the access raises #GP (SDM 11.12.1.2).
    bool msr_read(std::uint32_t msr, std::uint64_t& value);
    bool msr_write(std::uint32_t msr, std::uint64_t value);
    /// IA32_TSC_DEADLINE (SDM 11.5.4.1): reads 0 and ignores writes outside TSC-deadline mode.
    std::uint64_t tsc_deadline() const;
    void set_tsc_deadline(std::uint64_t value);

    /// Whether an APIC-bus message addressed this way reaches this APIC (SDM 11.6.2).
    bool matches_destination(std::uint32_t destination, bool logical, bool wide) const;
    /// Accepts a message from the IOAPIC or another APIC; false when it was not taken (the
    /// APIC is disabled). Fixed and lowest-priority messages set IRR (and TMR if level).
    bool accept(const ApicMessage& message);
    /// The processor priority (PPR, SDM 11.8.3.1), for lowest-priority arbitration.
    std::uint8_t processor_priority() const;

    /// True when IRR holds a vector whose priority class beats the PPR.
    bool has_interrupt() const;
    /// INTA: moves the highest deliverable vector from IRR to ISR and returns it; returns the
    /// spurious vector when nothing is deliverable (SDM 11.9).
    std::uint8_t acknowledge();
    /// For the BSP: PIC interrupts reach the CPU when the APIC is hardware-disabled or LINT0 is
    /// unmasked with ExtINT delivery (virtual wire mode, SDM 11.5.1 / MP spec 3.6.2.2).
    bool accepts_pic_interrupts() const;

    /// Pending NMI (ICR NMI message); take_ clears it.
    bool has_nmi() const;
    bool take_nmi();
    /// The oldest INIT/SIPI not yet taken by the interpreter (at most 4 are kept).
    std::optional<soft::StartupRequest> take_startup_request();
    bool has_startup_request() const;

    /// The power-on state (the platform left a sleep state that removed CPU power, ACPI S3):
    /// registers as after reset, IA32_APIC_BASE back to 0xfee00000 enabled in xAPIC mode, no
    /// pending NMI, INIT or SIPI. The APIC ID is the initial one again.
    void power_on_reset();

    /// Fires the timer (one-shot, periodic, TSC-deadline) if due at now.
    void update(std::uint64_t now);
    /// When the timer next fires, on the clock's time line.
    std::optional<std::uint64_t> next_deadline() const;

    /// Snapshot state (platform/pc/pc_platform_snapshot.cpp): written with every vCPU parked,
    /// loaded before any runs. A reader error (or a value out of range) makes the restore
    /// discard the whole machine, so the chip is never run with what it loaded then.
    void save_state(StateWriter& writer);
    void load_state(StateReader& reader);

  private:
    template <typename Archive> void persist(Archive& archive);
    struct Actions {
        std::optional<ApicMessage> ipi;
        std::optional<std::uint8_t> eoi_vector;
    };

    /// The APIC mutex; releasing it republishes the lock-free summaries below, so every state
    /// change made under it is visible to has_interrupt() and accepts_pic_interrupts().
    class StateLock {
      public:
        explicit StateLock(const LocalApic& apic) : m_apic(apic) { apic.m_mutex.lock(); }
        StateLock(const StateLock&) = delete;
        StateLock& operator=(const StateLock&) = delete;
        ~StateLock();

      private:
        const LocalApic& m_apic;
    };

    void reset();
    bool deliverable_locked() const;
    bool accepts_pic_locked() const;
    void run(const Actions& actions);
    bool hardware_enabled() const;
    bool software_enabled() const;
    std::uint32_t read_register(std::uint32_t offset, std::uint64_t now) const;
    void write_register(std::uint32_t offset, std::uint32_t value, std::uint64_t now,
                        Actions& actions);
    void write_lvt(std::uint32_t index, std::uint32_t value, std::uint64_t now);
    void write_initial_count(std::uint32_t value, std::uint64_t now);
    void end_of_interrupt(Actions& actions);
    void send_icr(std::uint64_t icr, Actions& actions);
    void set_irr(std::uint8_t vector, bool level);
    void signal_error(std::uint32_t bit);
    int highest_irr() const;
    int highest_isr() const;
    std::uint8_t processor_priority_locked() const;
    std::uint32_t timer_mode() const;
    std::uint64_t timer_divisor() const;
    std::uint32_t current_count(std::uint64_t now) const;
    std::uint64_t tsc_at(std::uint64_t ns) const;
    std::uint64_t ns_at_tsc(std::uint64_t tsc) const;
    void fire_lvt(std::uint32_t index);

    mutable std::mutex m_mutex;
    /// has_interrupt() and accepts_pic_interrupts() as of the last unlock: the vCPU polls them
    /// before every block, so they must not take the mutex.
    mutable std::atomic<bool> m_interrupt_ready{false};
    mutable std::atomic<bool> m_pic_ready{true};
    const std::uint32_t m_initial_id;
    const bool m_bootstrap;
    const std::uint64_t m_tsc_frequency_hz;
    MonotonicClock m_clock;
    Hooks m_hooks;

    std::uint64_t m_base;
    std::atomic<std::uint64_t> m_published_base{m_base}; ///< m_base, readable without the lock
    std::uint32_t m_xapic_id{0}; ///< ID register in xAPIC mode (writable, bits 31:24)
    std::uint32_t m_tpr{0};
    std::uint32_t m_ldr{0};
    std::uint32_t m_dfr{0xffffffff};
    std::uint32_t m_svr{0xff};
    std::array<std::uint32_t, 8> m_isr{};
    std::array<std::uint32_t, 8> m_tmr{};
    std::array<std::uint32_t, 8> m_irr{};
    std::uint32_t m_esr{0};
    std::uint32_t m_esr_pending{0};
    std::uint64_t m_icr{0};
    std::array<std::uint32_t, max_lvt_entry + 1> m_lvt{};
    std::uint32_t m_initial_count{0};
    std::uint32_t m_divide_config{0};
    std::uint64_t m_timer_start_ns{0};
    std::optional<std::uint64_t> m_timer_deadline_ns;
    std::uint64_t m_tsc_deadline{0};
    bool m_nmi_pending{false};
    std::deque<soft::StartupRequest> m_startup_requests;
};

} // namespace vessel::pc
