// FpuState: the x87 and SSE register file, with a 128-bit XMM register type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vessel::soft {

/// One 128-bit XMM register: two little-endian quadwords, read and written as lanes of any
/// width (bytes, words, dwords, floats, doubles).
struct Xmm {
    std::uint64_t q[2]{0, 0};

    /// Lane `i` of type E (lane 0 is the least significant).
    template <typename E> E get(unsigned i) const {
        E value;
        // Sound: byte access to the object's own storage; i * sizeof(E) + sizeof(E) <= 16 for
        // every lane index the instructions use.
        std::memcpy(&value, reinterpret_cast<const std::uint8_t*>(q) + i * sizeof(E), sizeof(E));
        return value;
    }
    template <typename E> void set(unsigned i, E value) {
        // Sound: as in get().
        std::memcpy(reinterpret_cast<std::uint8_t*>(q) + i * sizeof(E), &value, sizeof(E));
    }
    friend bool operator==(const Xmm&, const Xmm&) = default;
};
static_assert(sizeof(Xmm) == 16, "translated code and fxsave move XMM registers as 16 bytes");

/// x87 and SSE register file.
struct FpuState {
    long double st[8]{}; ///< physical registers R0-R7
    std::uint16_t control{0x37f};
    std::uint16_t status{0};
    std::uint8_t top{0};
    std::uint8_t tag_valid{0}; ///< bit i: physical register i holds a value
    Xmm xmm[16]{};
    std::uint32_t mxcsr{0x1f80};
    /// Bits 128-255 of ymm0-ymm15 (AVX). Legacy SSE instructions leave them alone; VEX.128
    /// instructions zero them.
    Xmm ymm_upper[16]{};
};
static_assert(offsetof(FpuState, xmm) == 136, "the layout the translator was written against");

} // namespace vessel::soft
