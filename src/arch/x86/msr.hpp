// MSR numbers and the bits Vessel sets in them, for every engine (Intel SDM Vol. 4, 2.1).
#pragma once

#include <cstdint>

namespace vessel::x86::msr {

constexpr std::uint32_t tsc = 0x10;          ///< IA32_TIME_STAMP_COUNTER
constexpr std::uint32_t apic_base = 0x1b;    ///< IA32_APIC_BASE
constexpr std::uint32_t tsc_adjust = 0x3b;   ///< IA32_TSC_ADJUST
constexpr std::uint32_t spec_ctrl = 0x48;    ///< IA32_SPEC_CTRL
constexpr std::uint32_t pred_cmd = 0x49;     ///< IA32_PRED_CMD
constexpr std::uint32_t bios_sign_id = 0x8b; ///< IA32_BIOS_SIGN_ID (microcode revision)
constexpr std::uint32_t mtrr_cap = 0xfe;     ///< IA32_MTRRCAP
constexpr std::uint32_t mcg_cap = 0x179;     ///< IA32_MCG_CAP (bank count, MCG_CTL_P)
constexpr std::uint32_t mcg_status = 0x17a;  ///< IA32_MCG_STATUS
constexpr std::uint32_t mcg_ctl = 0x17b;     ///< IA32_MCG_CTL
/// IA32_MCi_CTL/STATUS/ADDR/MISC of bank i: mc_bank_first + 4 * i + 0..3.
constexpr std::uint32_t mc_bank_first = 0x400;
constexpr std::uint32_t arch_capabilities = 0x10a;   ///< IA32_ARCH_CAPABILITIES
constexpr std::uint32_t sysenter_cs = 0x174;         ///< IA32_SYSENTER_CS
constexpr std::uint32_t sysenter_esp = 0x175;        ///< IA32_SYSENTER_ESP
constexpr std::uint32_t sysenter_eip = 0x176;        ///< IA32_SYSENTER_EIP
constexpr std::uint32_t misc_enable = 0x1a0;         ///< IA32_MISC_ENABLE
constexpr std::uint32_t pat = 0x277;                 ///< IA32_PAT
constexpr std::uint32_t mtrr_def_type = 0x2ff;       ///< IA32_MTRR_DEF_TYPE
constexpr std::uint32_t tsc_deadline = 0x6e0;        ///< IA32_TSC_DEADLINE
constexpr std::uint32_t x2apic_first = 0x800;        ///< first x2APIC register MSR
constexpr std::uint32_t x2apic_last = 0x8ff;         ///< last x2APIC register MSR
constexpr std::uint32_t efer = 0xc0000080;           ///< IA32_EFER
constexpr std::uint32_t star = 0xc0000081;           ///< IA32_STAR: syscall/sysret selectors
constexpr std::uint32_t lstar = 0xc0000082;          ///< IA32_LSTAR: 64-bit syscall target
constexpr std::uint32_t cstar = 0xc0000083;          ///< compatibility-mode syscall target
constexpr std::uint32_t sfmask = 0xc0000084;         ///< IA32_FMASK: RFLAGS cleared by syscall
constexpr std::uint32_t fs_base = 0xc0000100;        ///< IA32_FS_BASE
constexpr std::uint32_t gs_base = 0xc0000101;        ///< IA32_GS_BASE
constexpr std::uint32_t kernel_gs_base = 0xc0000102; ///< IA32_KERNEL_GS_BASE (swapgs)
constexpr std::uint32_t tsc_aux = 0xc0000103;        ///< IA32_TSC_AUX (rdtscp)

/// IA32_MISC_ENABLE bit 0: fast-string operations enabled.
constexpr std::uint64_t misc_enable_fast_strings = 1u << 0;
/// IA32_MTRR_DEF_TYPE: MTRRs enabled (bit 11), default memory type write-back (6)
/// (Intel SDM Vol. 3, 12.11.2.1).
constexpr std::uint64_t mtrr_def_type_enable = 1u << 11;
constexpr std::uint64_t mtrr_type_write_back = 6;

} // namespace vessel::x86::msr
