// KvmVcpu: one KVM vCPU fd, its shared kvm_run page, and the exit-dispatch loop.
#pragma once

#include <atomic>
#include <memory>
#include <pthread.h>

#include "base/mapped_region.hpp"
#include "engine/hypervisor.hpp"
#include "engine/kvm/kvm_guest_debug.hpp"
#include "engine/kvm/kvm_system.hpp"

struct kvm_run;

namespace vessel::kvm {

class KvmVcpu final : public Vcpu {
  public:
    static Result<std::unique_ptr<KvmVcpu>> create(const KvmSystem& system, VmContext context,
                                                   UniqueFd fd, std::uint32_t index);
    ~KvmVcpu() override;

    std::uint32_t index() const override { return m_index; }
    Result<void> set_state(const x86::CpuState& state) override;
    Result<x86::CpuState> state() override;
    VcpuExit run() override;
    void kick() override;
    void clear_kick() override;
    /// KVM_SET_GUEST_DEBUG: at most four breakpoints and watchpoints (the debug registers).
    Result<void> set_guest_debug(const GuestDebug& debug) override;
    /// ACPI S3 resume (kvm_vcpu_reset.cpp): local APIC, XCR0, x87/SSE and registers to their
    /// power-on values through KVM_SET_LAPIC/MSRS/XCRS/FPU/SREGS/REGS, then the BSP at `start`
    /// and the APs in wait-for-SIPI (KVM_MP_STATE_INIT_RECEIVED).
    Result<void> reset_after_sleep(const std::optional<x86::CpuState>& start) override;

  private:
    KvmVcpu(VmContext context, UniqueFd fd, std::uint32_t index)
        : m_context(context), m_fd(std::move(fd)), m_index(index) {}
    Result<void> set_up(const KvmSystem& system);
    Result<void> set_cpuid(const KvmSystem& system);
    Result<void> set_boot_msrs();
    Result<void> set_local_interrupt_pins();
    void handle_port_io();
    void handle_mmio();
    std::uint64_t current_rip();

    VmContext m_context;
    UniqueFd m_fd;
    std::uint32_t m_index;
    kvm_run* m_run{nullptr};
    std::size_t m_run_size{0};
    std::atomic<bool> m_kicked{false};
    std::atomic<pthread_t> m_thread{};
    std::atomic<bool> m_thread_known{false};
    DebugRegisterSlots m_debug_slots; ///< what KVM_SET_GUEST_DEBUG put in DR0-DR3
};

} // namespace vessel::kvm
