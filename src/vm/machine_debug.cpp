// Machine: what a debugger drives (debug stops, parked vCPUs' registers, their debug set-up).
#include "vm/machine.hpp"

namespace vessel {

void Machine::set_debug_stop_listener(DebugStopListener listener) {
    std::lock_guard lock(m_mutex);
    m_debug_stop_listener = std::move(listener);
}

void Machine::start_paused() {
    std::lock_guard lock(m_mutex);
    m_paused = true;
}

bool Machine::wait_until_parked() {
    std::unique_lock lock(m_mutex);
    m_pause_changed.wait(
        lock, [this] { return m_stopping || (m_started && m_paused && m_parked == m_running); });
    return !m_stopping;
}

bool Machine::debug_stop(Vcpu& vcpu, const DebugEvent& event) {
    DebugStopListener listener;
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) return false;
        m_paused = true;
        listener = m_debug_stop_listener;
    }
    for (auto& other : m_vcpus)
        if (other.get() != &vcpu) other->kick();
    if (listener) listener(vcpu.index(), event);
    return park_while_paused();
}

Result<x86::CpuState> Machine::vcpu_state(std::uint32_t index) {
    if (index >= m_vcpus.size())
        return make_error("no vCPU {} (the VM has {})", index, m_vcpus.size());
    return m_vcpus[index]->state();
}

Result<void> Machine::set_vcpu_state(std::uint32_t index, const x86::CpuState& state) {
    if (index >= m_vcpus.size())
        return make_error("no vCPU {} (the VM has {})", index, m_vcpus.size());
    return m_vcpus[index]->set_state(state);
}

Result<void> Machine::set_guest_debug(std::uint32_t index, const GuestDebug& debug) {
    if (index >= m_vcpus.size())
        return make_error("no vCPU {} (the VM has {})", index, m_vcpus.size());
    return m_vcpus[index]->set_guest_debug(debug);
}

Result<VectorRegisters> Machine::vcpu_vector_registers(std::uint32_t index) {
    if (index >= m_vcpus.size())
        return make_error("no vCPU {} (the VM has {})", index, m_vcpus.size());
    return m_vcpus[index]->vector_registers();
}

Result<void> Machine::set_vcpu_vector_registers(std::uint32_t index,
                                                const VectorRegisters& registers) {
    if (index >= m_vcpus.size())
        return make_error("no vCPU {} (the VM has {})", index, m_vcpus.size());
    return m_vcpus[index]->set_vector_registers(registers);
}

} // namespace vessel
