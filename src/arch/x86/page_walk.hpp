// Linear-to-physical translation through a guest's page tables, without side effects (no
// accessed/dirty bits set, no faults raised): what a debugger does to read guest memory.
#pragma once

#include <cstdint>

#include "arch/x86/cpu_state.hpp"
#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::x86 {

/// The paging controls a walk depends on.
struct PagingMode {
    std::uint64_t cr0{0};
    std::uint64_t cr3{0};
    std::uint64_t cr4{0};
    std::uint64_t efer{0};
    static PagingMode of(const CpuState& state) {
        return {state.cr0, state.cr3, state.cr4, state.efer};
    }
};

/// The guest-physical address of `linear` under `paging` (identity without CR0.PG): 32-bit,
/// PAE and 4-level paging (Intel SDM Vol. 3, 4.3-4.5). Fails, naming the address and the level,
/// for a non-present entry or page tables outside RAM.
Result<std::uint64_t> translate_linear(const GuestMemory& memory, const PagingMode& paging,
                                       std::uint64_t linear);

} // namespace vessel::x86
