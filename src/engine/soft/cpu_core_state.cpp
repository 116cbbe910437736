// CpuCore state: conversion to and from CpuState, and the mode, CPL and segment bases derived
// from CR0, EFER and CS.
#include "engine/soft/cpu_core.hpp"

namespace vessel::soft {

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
    pending_debug_traps = 0;
    halted = false;
    nmi_blocked = false;
    flush_tlb(true);
    update_mode();
}

void CpuCore::init_reset() {
    xcr0 = 1; // XCR0[0] (x87) is always set
    for (int i = 0; i < 4; ++i)
        dr[i] = 0;
    dr[6] = 0xffff0ff0;
    dr[7] = 0x400;
    update_breakpoints();
    pending_debug_traps = 0;
    pending_shutdown = false;
    nmi_blocked = false;
}

void CpuCore::power_on_reset() {
    init_reset();
    fpu = FpuState{};
    star = lstar = cstar = sfmask = kernel_gs_base = tsc_aux = 0;
    sysenter_cs = sysenter_esp = sysenter_eip = 0;
    pat = 0x0007040600070406;
    misc_enable = 1;
    mtrr_def_type = 0;
    spec_ctrl = 0;
    mcg_status = 0;
    mcg_ctl = ~std::uint64_t{0};
    for (auto& bank : machine_check_bank)
        for (auto& value : bank)
            value = 0;
    pkru = 0;
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

} // namespace vessel::soft
