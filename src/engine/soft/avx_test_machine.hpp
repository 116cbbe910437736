// AvxTestMachine: a SoftTestMachine with AVX enabled and its YMM registers seen as 8 dword lanes.
#pragma once

#include <cstdint>
#include <cstring>

#include "engine/soft/cpu_model.hpp"
#include "engine/soft/soft_test_machine.hpp"
#include "engine/soft/xsave_state.hpp"

namespace vessel::soft::testing {

/// CR4.OSFXSR and OSXSAVE set, the CPU model and XCR0 as given (by default: every AVX2
/// instruction available and YMM state enabled).
struct AvxTestMachine : SoftTestMachine {
    explicit AvxTestMachine(SoftTier tier = SoftTier::Translator, CpuModel model = CpuModel::Max,
                            std::uint64_t xcr0 = 7)
        : SoftTestMachine(tier) {
        state.cr4 |= x86::cr4::osfxsr | xsave::cr4_osxsave;
        soft_vcpu().core().set_cpu_model(model);
        soft_vcpu().core().xcr0 = xcr0;
    }
    FpuState& fpu() { return soft_vcpu().core().fpu; }
    /// Lane i (of 8) of ymm`index` as 32 bits.
    std::uint32_t lane(unsigned index, unsigned i) {
        const std::uint64_t* half = i < 4 ? fpu().xmm[index].q : fpu().ymm_upper[index].q;
        return static_cast<std::uint32_t>(half[(i % 4) / 2] >> (32 * (i % 2)));
    }
    /// Sets the 8 dword lanes of ymm`index`, lane 0 first.
    void set_lanes(unsigned index, const std::uint32_t (&values)[8]) {
        std::memcpy(fpu().xmm[index].q, values, 16);
        std::memcpy(fpu().ymm_upper[index].q, values + 4, 16);
    }
};

} // namespace vessel::soft::testing
