// Machine: ACPI S3 (suspend to RAM) and the wake events (RTC alarm, console input, the API).
#include "arch/x86/acpi_tables.hpp"
#include "arch/x86/acpi_waking_vector.hpp"
#include "base/log.hpp"
#include "vm/machine.hpp"

namespace vessel {

void Machine::suspend_to_ram() {
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping || m_suspended) return;
        m_suspended = true;
        m_pause_changed.notify_all();
    }
    log::info("guest suspended to RAM (ACPI S3); an RTC alarm, console input or PUT /vessel/wake "
              "wakes it");
    // Every vCPU stops at its next instruction boundary (the writing one right after its out)
    // and parks: no instruction runs and no interrupt is taken until the wake.
    for (auto& vcpu : m_vcpus)
        vcpu->kick();
}

bool Machine::suspended() const {
    std::lock_guard lock(m_mutex);
    return m_suspended;
}

Result<void> Machine::wake_from_sleep(std::string_view reason) {
    std::unique_lock lock(m_mutex);
    if (!m_suspended) return make_error("wake: the guest is not suspended (ACPI S3)");
    if (m_stopping) return make_error("wake: the VM is shutting down");
    // Every vCPU is parked (or has ended): guest RAM holds what the guest left for its resume.
    auto waking_state = x86::acpi_waking_state(m_memory, x86::acpi_hardware::facs_address);
    if (!waking_state) {
        lock.unlock();
        // What firmware does without a place to resume: a reboot, which ends the VM.
        request_exit({ExitRequest::Kind::Reset, exit_status::clean,
                      fmt::format("guest woke from S3 ({}) but cannot resume: {}", reason,
                                  waking_state.error().message)});
        return make_error("{}", waking_state.error().message);
    }
    m_waking_state = *waking_state;
    m_acpi_power->woke(); // WAK_STS, before any vCPU runs again
    ++m_wakes;
    m_suspended = false;
    m_pause_changed.notify_all();
    log::info("guest woke from S3 ({}): resuming at {:04x}:{:04x}", reason,
              m_waking_state.cs.selector, m_waking_state.rip);
    return {};
}

void Machine::rtc_alarm() {
    // RTC_STS is set either way; RTC_EN decides whether the alarm is a wake event.
    if (m_acpi_power->rtc_alarm() && suspended()) (void)wake_from_sleep("RTC alarm");
}

bool Machine::reset_if_woken(Vcpu& vcpu, std::uint64_t& wakes_seen) {
    std::optional<x86::CpuState> start;
    {
        std::lock_guard lock(m_mutex);
        if (m_wakes == wakes_seen) return true;
        wakes_seen = m_wakes;
        if (vcpu.index() == 0) start = m_waking_state;
    }
    if (auto result = vcpu.reset_after_sleep(start); !result) {
        request_exit(
            {ExitRequest::Kind::EngineError, exit_status::engine_error,
             fmt::format("vCPU {}: resuming from S3: {}", vcpu.index(), result.error().message)});
        return false;
    }
    return true;
}

} // namespace vessel
