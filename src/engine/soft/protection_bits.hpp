// Control-register, flag and page-fault bits of the supervisor protections the software CPU
// implements beyond the x86-64 baseline: SMEP, SMAP, UMIP and protection keys (Intel SDM Vol. 3,
// 2.5 and 4.6).
#pragma once

#include <cstdint>

namespace vessel::soft::protection {

constexpr std::uint64_t cr4_umip = 1u << 11; ///< sgdt/sidt/sldt/smsw/str only at CPL 0
constexpr std::uint64_t cr4_smep = 1u << 20; ///< no supervisor fetch from user pages
constexpr std::uint64_t cr4_smap = 1u << 21; ///< no supervisor data access to user pages
constexpr std::uint64_t cr4_pke = 1u << 22;  ///< protection keys for user pages (PKRU)
/// The CR4 bits that change which accesses the TLB may hold.
constexpr std::uint64_t cr4_paging_bits = cr4_smep | cr4_smap | cr4_pke;

/// Page-fault error code: a protection-key violation (Intel SDM Vol. 3, 4.7).
constexpr std::uint32_t page_fault_protection_key = 1u << 5;

/// Bits 62:59 of a 4-level paging leaf entry hold its protection key (Intel SDM Vol. 3, 4.6.2).
constexpr unsigned protection_key_shift = 59;

} // namespace vessel::soft::protection
