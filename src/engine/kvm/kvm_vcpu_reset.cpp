// KvmVcpu::reset_after_sleep: a vCPU's power-on state after ACPI S3, through KVM's ioctls.
#include <cerrno>
#include <cstring>
#include <sys/ioctl.h>

#include "arch/x86/msr.hpp"
#include "base/kvm_uapi.hpp"
#include "engine/kvm/kvm_system.hpp"
#include "engine/kvm/kvm_vcpu.hpp"

namespace vessel::kvm {

namespace {
// Local APIC register offsets and reset values (Intel SDM Vol. 3A, 11.4.7.1 and table 11-1).
constexpr std::size_t apic_tpr = 0x80;
constexpr std::size_t apic_ldr = 0xd0;
constexpr std::size_t apic_dfr = 0xe0;
constexpr std::size_t apic_svr = 0xf0;
constexpr std::size_t apic_isr = 0x100;
constexpr std::size_t apic_tmr = 0x180;
constexpr std::size_t apic_irr = 0x200;
constexpr std::size_t apic_esr = 0x280;
constexpr std::size_t apic_icr_low = 0x300;
constexpr std::size_t apic_icr_high = 0x310;
constexpr std::size_t apic_lvt_first = 0x320; ///< timer; thermal, perf, LINT0, LINT1, error
constexpr std::size_t apic_lvt_last = 0x370;
constexpr std::size_t apic_lvt_cmci = 0x2f0;
constexpr std::size_t apic_lvt_lint0 = 0x350;
constexpr std::size_t apic_lvt_lint1 = 0x360;
constexpr std::size_t apic_initial_count = 0x380;
constexpr std::size_t apic_divide_config = 0x3e0;
constexpr std::uint32_t lvt_masked = 1u << 16;
constexpr std::uint32_t delivery_mode_extint = 0x700;
constexpr std::uint32_t delivery_mode_nmi = 0x400;
constexpr std::uint64_t apic_base_default = 0xfee0'0000;
constexpr std::uint64_t apic_base_enable = 1u << 11;
constexpr std::uint64_t apic_base_bsp = 1u << 8;
constexpr std::uint64_t xcr0_x87 = 1;
constexpr std::uint16_t fpu_control_reset = 0x37f;
constexpr std::uint32_t mxcsr_reset = 0x1f80;

void put32(kvm_lapic_state& lapic, std::size_t offset, std::uint32_t value) {
    std::memcpy(lapic.regs + offset, &value, 4);
}
} // namespace

Result<void> KvmVcpu::reset_after_sleep(const std::optional<x86::CpuState>& start) {
    const bool bootstrap = m_index == 0;
    // IA32_APIC_BASE first: leaving x2APIC mode needs the APIC disabled on the way (SDM
    // 11.12.5), and KVM recomputes the APIC ID from the mode.
    {
        std::uint8_t storage[sizeof(kvm_msrs) + 2 * sizeof(kvm_msr_entry)] = {};
        // Sound: the byte array holds the header and two entries, accessed only through it.
        auto* msrs = reinterpret_cast<kvm_msrs*>(storage);
        msrs->nmsrs = 2;
        msrs->entries[0].index = x86::msr::apic_base;
        msrs->entries[0].data = bootstrap ? apic_base_bsp : 0; // disabled
        msrs->entries[1].index = x86::msr::apic_base;
        msrs->entries[1].data =
            apic_base_default | apic_base_enable | (bootstrap ? apic_base_bsp : 0);
        const int written = TRY(KVM_IOCTL(m_fd.get(), KVM_SET_MSRS, msrs));
        if (written != 2)
            return make_error("vCPU {}: resetting IA32_APIC_BASE set {} of 2 MSR writes", m_index,
                              written);
    }
    kvm_lapic_state lapic{};
    TRY(KVM_IOCTL(m_fd.get(), KVM_GET_LAPIC, &lapic)); // keeps the ID and version
    put32(lapic, apic_tpr, 0);
    put32(lapic, apic_ldr, 0);
    put32(lapic, apic_dfr, 0xffff'ffff);
    put32(lapic, apic_svr, 0xff);
    for (std::size_t i = 0; i < 8; ++i) {
        put32(lapic, apic_isr + 0x10 * i, 0);
        put32(lapic, apic_tmr + 0x10 * i, 0);
        put32(lapic, apic_irr + 0x10 * i, 0);
    }
    put32(lapic, apic_esr, 0);
    put32(lapic, apic_icr_low, 0);
    put32(lapic, apic_icr_high, 0);
    put32(lapic, apic_lvt_cmci, lvt_masked);
    for (std::size_t offset = apic_lvt_first; offset <= apic_lvt_last; offset += 0x10)
        put32(lapic, offset, lvt_masked);
    // Virtual-wire mode as firmware leaves it (as set_local_interrupt_pins at creation).
    put32(lapic, apic_lvt_lint0, delivery_mode_extint);
    put32(lapic, apic_lvt_lint1, delivery_mode_nmi);
    put32(lapic, apic_initial_count, 0);
    put32(lapic, apic_divide_config, 0);
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_LAPIC, &lapic));

    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = xcr0_x87;
    if (::ioctl(m_fd.get(), KVM_SET_XCRS, &xcrs) < 0 && errno != EINVAL) // EINVAL: no XSAVE
        return make_error("vCPU {}: KVM_SET_XCRS: {}", m_index, std::strerror(errno));
    kvm_fpu fpu{};
    fpu.fcw = fpu_control_reset;
    fpu.mxcsr = mxcsr_reset;
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_FPU, &fpu));
    kvm_debugregs debug{};
    debug.dr6 = 0xffff0ff0;
    debug.dr7 = 0x400;
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_DEBUGREGS, &debug));

    TRY(set_state(start.value_or(x86::CpuState{})));
    kvm_mp_state mp_state{};
    mp_state.mp_state = start ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_INIT_RECEIVED;
    TRY(KVM_IOCTL(m_fd.get(), KVM_SET_MP_STATE, &mp_state));
    return {};
}

} // namespace vessel::kvm
