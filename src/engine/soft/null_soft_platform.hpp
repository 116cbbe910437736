// NullSoftPlatform: a SoftPlatform without interrupt or timer hardware (difftest, unit tests).
#pragma once

#include <condition_variable>
#include <mutex>

#include "engine/soft/soft_platform.hpp"

namespace vessel::soft {

/// No interrupt sources, no local APIC (IA32_APIC_BASE reads 0, so no address is the APIC
/// page, and writing it raises #GP), x2APIC MSRs raise #GP, the TSC stays at 0. A CPU halted
/// with interrupts enabled sleeps until wake(), as a real one would with nothing to wake it.
class NullSoftPlatform : public SoftPlatform {
  public:
    void set_irq_level(std::uint32_t, bool) override {}
    void signal_msi(std::uint64_t, std::uint32_t) override {}
    void poll(std::uint32_t) override {}
    bool has_interrupt(std::uint32_t) override { return false; }
    std::uint8_t acknowledge_interrupt(std::uint32_t) override { return 0; }
    void wait_for_interrupt(std::uint32_t) override {
        std::unique_lock lock(m_mutex);
        m_wakeup.wait(lock, [this] { return m_woken; });
        m_woken = false;
    }
    void wake(std::uint32_t) override {
        {
            std::lock_guard lock(m_mutex);
            m_woken = true;
        }
        m_wakeup.notify_all();
    }
    std::uint64_t tsc() const override { return 0; }
    std::uint64_t tsc_frequency_hz() const override { return guest_tsc_frequency_hz; }
    std::uint64_t apic_base(std::uint32_t) const override { return 0; }
    bool set_apic_base(std::uint32_t, std::uint64_t) override { return false; }
    std::uint32_t apic_mmio_read(std::uint32_t, std::uint32_t) override { return 0; }
    void apic_mmio_write(std::uint32_t, std::uint32_t, std::uint32_t) override {}
    bool x2apic_msr_read(std::uint32_t, std::uint32_t, std::uint64_t&) override { return false; }
    bool x2apic_msr_write(std::uint32_t, std::uint32_t, std::uint64_t) override { return false; }
    std::uint64_t tsc_deadline(std::uint32_t) const override { return 0; }
    void set_tsc_deadline(std::uint32_t, std::uint64_t) override {}

  private:
    std::mutex m_mutex;
    std::condition_variable m_wakeup;
    bool m_woken{false}; ///< sticky: a wake() before the wait is not lost
};

} // namespace vessel::soft
