// VectorRegisters: a vCPU's SSE and AVX registers as a debugger reads and writes them.
#pragma once

#include <array>
#include <cstdint>

namespace vessel {

/// XMM0-15 and MXCSR (Intel SDM Vol. 1, 10.2), the upper halves of YMM0-15 (Vol. 1, 14.1) and
/// XCR0 (Vol. 1, 13.3).
struct VectorRegisters {
    std::array<std::array<std::uint64_t, 2>, 16> xmm{};       ///< bits 0-127 of ymm0-15
    std::array<std::array<std::uint64_t, 2>, 16> ymm_upper{}; ///< bits 128-255 of ymm0-15
    std::uint32_t mxcsr{0x1f80};
    std::uint64_t xcr0{1}; ///< read-only for a debugger: the guest sets it with xsetbv
};

} // namespace vessel
