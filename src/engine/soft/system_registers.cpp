// CpuCore system state: CpuState conversion, modes, segment loads, control registers, MSRs.
#include "engine/soft/cpu_core.hpp"
#include "engine/soft/soft_platform.hpp"

namespace vessel::soft {

namespace {

/// IA32_ARCH_CAPABILITIES (Intel SDM Vol. 4, 2.1): an interpreter and a translator do not
/// speculate, so the software CPU is immune to every transient-execution attack the register
/// can declare: RDCL_NO (Meltdown, L1TF), IBRS_ALL (enhanced IBRS, so no retpolines),
/// SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO, FBSDP_NO, PSDP_NO
/// (MMIO stale data), BHI_NO, PBRSB_NO, GDS_NO, RFDS_NO and ITS_NO. Without it a guest kernel
/// isolates its page tables (a CR3 write on every system call), clears buffers with verw on
/// every return to user mode and routes indirect branches through retpoline thunks.
constexpr std::uint64_t arch_capabilities_value =
    (1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) |
    (1ull << 8) | (1ull << 13) | (1ull << 14) | (1ull << 15) | (1ull << 20) | (1ull << 24) |
    (1ull << 26) | (1ull << 27) | (1ull << 62);
/// What IA32_BIOS_SIGN_ID reports as the loaded microcode revision.
constexpr std::uint32_t microcode_revision = 1;

/// Segment descriptor fields (Intel SDM Vol. 3, 3.4.5).
x86::SegmentRegister parse_descriptor(std::uint64_t raw, std::uint16_t selector) {
    const auto low = static_cast<std::uint32_t>(raw), high = static_cast<std::uint32_t>(raw >> 32);
    x86::SegmentRegister segment;
    segment.selector = selector;
    segment.base = (low >> 16) | ((high & 0xff) << 16) | (high & 0xff00'0000);
    segment.limit = (low & 0xffff) | (high & 0xf'0000);
    segment.type = (high >> 8) & 0xf;
    segment.system = !((high >> 12) & 1);
    segment.dpl = (high >> 13) & 3;
    segment.present = (high >> 15) & 1;
    segment.long_mode = (high >> 21) & 1;
    segment.default_big = (high >> 22) & 1;
    segment.granularity = (high >> 23) & 1;
    if (segment.granularity) segment.limit = (segment.limit << 12) | 0xfff;
    segment.unusable = false;
    return segment;
}

} // namespace

void CpuCore::load_state(const x86::CpuState& state) {
    for (int i = 0; i < 16; ++i)
        gpr[i] = state.gpr[i];
    rip = state.rip;
    set_flags(state.rflags);
    segments[es] = state.es;
    segments[cs] = state.cs;
    segments[ss] = state.ss;
    segments[ds] = state.ds;
    segments[fs] = state.fs;
    segments[gs] = state.gs;
    tr = state.tr;
    ldt = state.ldt;
    gdt = state.gdt;
    idt = state.idt;
    cr0 = state.cr0 | x86::cr0::et;
    cr2 = state.cr2;
    cr3 = state.cr3;
    cr4 = state.cr4;
    cr8 = state.cr8;
    efer = state.efer;
    if ((efer & x86::efer::lme) && (cr0 & x86::cr0::pg)) efer |= x86::efer::lma;
    interrupt_shadow = false;
    halted = false;
    flush_tlb(true);
    update_mode();
}

x86::CpuState CpuCore::save_state() {
    x86::CpuState state;
    for (int i = 0; i < 16; ++i)
        state.gpr[i] = gpr[i];
    state.rip = rip;
    state.rflags = flags();
    state.es = segments[es];
    state.cs = segments[cs];
    state.ss = segments[ss];
    state.ds = segments[ds];
    state.fs = segments[fs];
    state.gs = segments[gs];
    state.tr = tr;
    state.ldt = ldt;
    state.gdt = gdt;
    state.idt = idt;
    state.cr0 = cr0;
    state.cr2 = cr2;
    state.cr3 = cr3;
    state.cr4 = cr4;
    state.cr8 = cr8;
    state.efer = efer;
    return state;
}

void CpuCore::update_mode() {
    const x86::SegmentRegister& code = segments[cs];
    if (!protected_mode())
        mode = CpuMode::Real;
    else if (long_mode_active())
        mode = code.long_mode     ? CpuMode::Long64
               : code.default_big ? CpuMode::Compat32
                                  : CpuMode::Compat16;
    else
        mode = code.default_big ? CpuMode::Protected32 : CpuMode::Protected16;
    cpl = protected_mode() ? (rflags & x86::rflags::vm ? 3 : code.selector & 3) : 0;
    m_user_access = cpl == 3;
    for (unsigned i = 0; i < 6; ++i)
        segment_base[i] = (mode == CpuMode::Long64 && i < fs) ? 0 : segments[i].base;
    fetch_context = static_cast<std::uint32_t>(mode) | (std::uint32_t{cpl} << 8);
}

unsigned CpuCore::code_size() const {
    switch (mode) {
    case CpuMode::Long64:
        return 8;
    case CpuMode::Protected32:
    case CpuMode::Compat32:
        return 4;
    default:
        return 2;
    }
}

unsigned CpuCore::stack_size() const {
    if (mode == CpuMode::Long64) return 8;
    return segments[ss].default_big ? 4 : 2;
}

bool CpuCore::condition(unsigned code) {
    if (lazy.op == FlagOp::Sub) {
        // cmp/sub fast path: compare the operands directly.
        const unsigned shift = 64 - 8 * lazy.size;
        const std::uint64_t d = lazy.dst << shift >> shift, s = lazy.src << shift >> shift;
        const auto sd = static_cast<std::int64_t>(lazy.dst << shift) >> shift;
        const auto ss_ = static_cast<std::int64_t>(lazy.src << shift) >> shift;
        switch (code) {
        case 2:
            return d < s;
        case 3:
            return d >= s;
        case 4:
            return d == s;
        case 5:
            return d != s;
        case 6:
            return d <= s;
        case 7:
            return d > s;
        case 12:
            return sd < ss_;
        case 13:
            return sd >= ss_;
        case 14:
            return sd <= ss_;
        case 15:
            return sd > ss_;
        default:
            break;
        }
    }
    bool cf, zf, sf, of, pf = false;
    if (lazy.op != FlagOp::None && (code >> 1) != 5) {
        // Everything but PF straight from the lazy state, without materialising RFLAGS.
        cf = lazy.carry();
        zf = lazy.zero();
        sf = lazy.sign();
        of = lazy.overflow();
    } else {
        const std::uint64_t f = flags();
        cf = f & x86::rflags::cf;
        zf = f & x86::rflags::zf;
        sf = f & x86::rflags::sf;
        of = f & x86::rflags::of;
        pf = f & x86::rflags::pf;
    }
    bool result = false;
    switch (code >> 1) {
    case 0:
        result = of;
        break;
    case 1:
        result = cf;
        break;
    case 2:
        result = zf;
        break;
    case 3:
        result = cf || zf;
        break;
    case 4:
        result = sf;
        break;
    case 5:
        result = pf;
        break;
    case 6:
        result = sf != of;
        break;
    default:
        result = zf || (sf != of);
        break;
    }
    return (code & 1) ? !result : result;
}

std::uint64_t CpuCore::descriptor_address(std::uint16_t selector, std::uint8_t error_vector) {
    const bool local = selector & 4;
    const std::uint64_t base = local ? ldt.base : gdt.base;
    const std::uint32_t limit = local ? ldt.limit : gdt.limit;
    const std::uint32_t offset = selector & ~7u;
    if ((local && ldt.unusable) || offset + 7 > limit) raise(error_vector, selector & ~3u);
    return base + offset;
}

x86::SegmentRegister CpuCore::read_descriptor(std::uint16_t selector, std::uint8_t error_vector) {
    const std::uint64_t address = descriptor_address(selector, error_vector);
    x86::SegmentRegister segment = parse_descriptor(read_system<8>(address), selector);
    if (segment.system && long_mode_active() && (segment.type == 2 || (segment.type & 9) == 9))
        segment.base |= read_system<8>(address + 8) << 32; // 16-byte LDT/TSS descriptors
    return segment;
}

void CpuCore::load_segment(unsigned segment, std::uint16_t selector) {
    x86::SegmentRegister& target = segments[segment];
    if (!protected_mode() || (rflags & x86::rflags::vm)) {
        target.selector = selector;
        target.base = std::uint64_t{selector} << 4;
        target.unusable = false;
        target.present = true;
        if (rflags & x86::rflags::vm) target.limit = 0xffff;
        update_mode();
        return;
    }
    if ((selector & ~3u) == 0) {
        if (segment == ss && (mode != CpuMode::Long64 || cpl == 3))
            raise(vector::general_protection, 0);
        target = x86::SegmentRegister{};
        target.selector = selector;
        target.unusable = true;
        target.present = false;
        if (segment == ss) target.dpl = cpl;
        update_mode();
        return;
    }
    x86::SegmentRegister loaded = read_descriptor(selector, vector::general_protection);
    const bool code = loaded.type & 8, readable_or_writable = loaded.type & 2;
    if (loaded.system || (segment == ss && (code || !readable_or_writable)) ||
        (segment != ss && code && !readable_or_writable))
        raise(vector::general_protection, selector & ~3u);
    if (!loaded.present)
        raise(segment == ss ? vector::stack_fault : vector::segment_not_present, selector & ~3u);
    target = loaded;
    update_mode();
}

void CpuCore::load_code_segment(std::uint16_t selector, unsigned new_cpl) {
    x86::SegmentRegister& target = segments[cs];
    if (!protected_mode() || (rflags & x86::rflags::vm)) {
        target.selector = selector;
        target.base = std::uint64_t{selector} << 4;
        update_mode();
        return;
    }
    if ((selector & ~3u) == 0) raise(vector::general_protection, 0);
    x86::SegmentRegister loaded = read_descriptor(selector, vector::general_protection);
    if (loaded.system || !(loaded.type & 8)) raise(vector::general_protection, selector & ~3u);
    if (!loaded.present) raise(vector::segment_not_present, selector & ~3u);
    loaded.selector = static_cast<std::uint16_t>((selector & ~3u) | new_cpl);
    target = loaded;
    update_mode();
}

void CpuCore::set_cr0(std::uint64_t value) {
    value |= x86::cr0::et;
    if ((value & x86::cr0::pg) && !(value & x86::cr0::pe)) raise(vector::general_protection, 0);
    const std::uint64_t changed = cr0 ^ value;
    if ((value & x86::cr0::pg) && !(cr0 & x86::cr0::pg) && (efer & x86::efer::lme)) {
        if (!(cr4 & x86::cr4::pae)) raise(vector::general_protection, 0);
        efer |= x86::efer::lma;
    }
    if (!(value & x86::cr0::pg)) {
        if (long_mode_active() && mode == CpuMode::Long64) raise(vector::general_protection, 0);
        efer &= ~x86::efer::lma;
    }
    cr0 = value;
    if (changed & (x86::cr0::pg | x86::cr0::pe | x86::cr0::wp)) flush_tlb(true);
    update_mode();
    exit_block = true;
}

void CpuCore::set_cr3(std::uint64_t value) {
    cr3 = value;
    flush_tlb(false);
}

void CpuCore::set_cr4(std::uint64_t value) {
    constexpr std::uint64_t supported = x86::cr4::pse | x86::cr4::pae | x86::cr4::pge |
                                        x86::cr4::osfxsr | x86::cr4::osxmmexcpt |
                                        (1u << 0) /*vme*/ | (1u << 1) /*pvi*/ | (1u << 2) /*tsd*/ |
                                        (1u << 3) /*de*/ | (1u << 6) /*mce*/ | (1u << 8) /*pce*/;
    if (value & ~supported) raise(vector::general_protection, 0);
    if (long_mode_active() && !(value & x86::cr4::pae)) raise(vector::general_protection, 0);
    const std::uint64_t changed = cr4 ^ value;
    cr4 = value;
    if (changed & (x86::cr4::pse | x86::cr4::pae | x86::cr4::pge)) flush_tlb(true);
    exit_block = true;
}

void CpuCore::set_efer(std::uint64_t value) {
    constexpr std::uint64_t writable = x86::efer::sce | x86::efer::lme | x86::efer::nxe;
    if (value & ~(writable | x86::efer::lma)) raise(vector::general_protection, 0);
    if (paging() && ((value ^ efer) & x86::efer::lme)) raise(vector::general_protection, 0);
    efer = (value & writable) | (efer & x86::efer::lma);
    flush_tlb(true);
    update_mode();
    exit_block = true;
}

std::uint64_t CpuCore::tsc() {
    const std::uint64_t base = m_platform != nullptr ? m_platform->tsc() : 0;
    return base + static_cast<std::uint64_t>(tsc_offset);
}

bool CpuCore::read_msr(std::uint32_t number, std::uint64_t& value) {
    switch (number) {
    case msr::tsc:
        value = tsc();
        return true;
    case msr::tsc_adjust:
        value = static_cast<std::uint64_t>(tsc_offset);
        return true;
    case msr::apic_base:
        value = m_platform != nullptr ? m_platform->apic_base(m_index) : 0;
        return true;
    case msr::efer:
        value = efer;
        return true;
    case msr::star:
        value = star;
        return true;
    case msr::lstar:
        value = lstar;
        return true;
    case msr::cstar:
        value = cstar;
        return true;
    case msr::sfmask:
        value = sfmask;
        return true;
    case msr::fs_base:
        value = segments[fs].base;
        return true;
    case msr::gs_base:
        value = segments[gs].base;
        return true;
    case msr::kernel_gs_base:
        value = kernel_gs_base;
        return true;
    case msr::tsc_aux:
        value = tsc_aux;
        return true;
    case msr::pat:
        value = pat;
        return true;
    case msr::misc_enable:
        value = misc_enable;
        return true;
    case msr::spec_ctrl:
        value = spec_ctrl;
        return true;
    case msr::arch_capabilities:
        value = arch_capabilities_value;
        return true;
    case msr::bios_sign_id:
        value = std::uint64_t{microcode_revision} << 32; // Intel SDM Vol. 3, 10.11.7.1
        return true;
    case msr::sysenter_cs:
        value = sysenter_cs;
        return true;
    case msr::sysenter_esp:
        value = sysenter_esp;
        return true;
    case msr::sysenter_eip:
        value = sysenter_eip;
        return true;
    case msr::mtrr_cap:
        value = 0;
        return true;
    case msr::mtrr_def_type:
        value = mtrr_def_type;
        return true;
    case msr::tsc_deadline:
        value = m_platform != nullptr ? m_platform->tsc_deadline(m_index) : 0;
        return true;
    default:
        break;
    }
    if (number >= msr::x2apic_first && number <= msr::x2apic_last && m_platform != nullptr)
        return m_platform->x2apic_msr_read(m_index, number, value);
    return false;
}

bool CpuCore::write_msr(std::uint32_t number, std::uint64_t value) {
    auto canonical = [](std::uint64_t v) {
        return static_cast<std::uint64_t>(static_cast<std::int64_t>(v << 16) >> 16) == v;
    };
    switch (number) {
    case msr::tsc:
        tsc_offset =
            static_cast<std::int64_t>(value - tsc() + static_cast<std::uint64_t>(tsc_offset));
        return true;
    case msr::tsc_adjust:
        // Writing TSC_ADJUST moves the TSC by the same amount (Intel SDM Vol. 3, 17.17.3).
        tsc_offset = static_cast<std::int64_t>(value);
        return true;
    case msr::apic_base:
        if (m_platform == nullptr || !m_platform->set_apic_base(m_index, value)) return false;
        flush_tlb(true);
        return true;
    case msr::efer:
        set_efer(value);
        return true;
    case msr::star:
        star = value;
        return true;
    case msr::lstar:
        if (!canonical(value)) return false;
        lstar = value;
        return true;
    case msr::cstar:
        cstar = value;
        return true;
    case msr::sfmask:
        sfmask = value & 0xffff'ffff;
        return true;
    case msr::fs_base:
        if (!canonical(value)) return false;
        segments[fs].base = value;
        update_mode();
        return true;
    case msr::gs_base:
        if (!canonical(value)) return false;
        segments[gs].base = value;
        update_mode();
        return true;
    case msr::kernel_gs_base:
        if (!canonical(value)) return false;
        kernel_gs_base = value;
        return true;
    case msr::tsc_aux:
        tsc_aux = value & 0xffff'ffff;
        return true;
    case msr::pat:
        pat = value;
        return true;
    case msr::misc_enable:
        misc_enable = value;
        return true;
    case msr::spec_ctrl:
        if ((value & ~std::uint64_t{0x407}) != 0) return false; // IBRS STIBP SSBD BHI_DIS_S
        spec_ctrl = value;
        return true;
    case msr::pred_cmd:
        return (value & ~std::uint64_t{1}) == 0; // IBPB: no predictor to flush
    case msr::bios_sign_id:
        return true; // software writes 0 before CPUID to read the revision back
    case msr::sysenter_cs:
        sysenter_cs = value;
        return true;
    case msr::sysenter_esp:
        sysenter_esp = value;
        return true;
    case msr::sysenter_eip:
        sysenter_eip = value;
        return true;
    case msr::mtrr_def_type:
        mtrr_def_type = value;
        return true;
    case msr::tsc_deadline:
        if (m_platform != nullptr) m_platform->set_tsc_deadline(m_index, value);
        return true;
    default:
        break;
    }
    if (number >= msr::x2apic_first && number <= msr::x2apic_last && m_platform != nullptr)
        return m_platform->x2apic_msr_write(m_index, number, value);
    return false;
}

} // namespace vessel::soft
