// SSE float arithmetic executed by the host's own SSE unit under the guest's MXCSR, so rounding
// control, DAZ, FTZ, NaN propagation and the exception flags are exactly the hardware's.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/soft/cpu_core.hpp"

namespace vessel::soft::sse_host {

/// MXCSR layout (Intel SDM Vol. 1, 10.2.3): flags IE DE ZE OE UE PE in bits 0-5, their masks in
/// bits 7-12.
constexpr std::uint32_t mxcsr_flags = 0x3f;
constexpr std::uint32_t mxcsr_masks = 0x1f80;
constexpr unsigned mxcsr_mask_shift = 7;

/// Keeps the compiler from moving arithmetic on `value` across the MXCSR switch.
template <typename T> inline void pin(T& value) {
    asm volatile("" : "+m"(value));
}

inline __m128i load(const std::uint64_t (&q)[2]) {
    __m128i value;
    std::memcpy(&value, q, 16);
    pin(value);
    return value;
}

inline void store(std::uint64_t (&q)[2], __m128i value) {
    std::memcpy(q, &value, 16);
}

/// Runs compute() (host SSE arithmetic) with the guest's rounding, DAZ and FTZ and every exception
/// masked, adds the exception flags it raised to the guest MXCSR, and raises #XM (#UD without
/// CR4.OSXMMEXCPT) for an unmasked one before the caller writes any result (Intel SDM Vol. 1,
/// 11.5.1).
template <typename Compute> auto under_guest_mxcsr(CpuCore& cpu, Compute&& compute) {
    const std::uint32_t host = _mm_getcsr();
    _mm_setcsr((cpu.fpu.mxcsr & ~mxcsr_flags) | mxcsr_masks);
    auto result = compute();
    pin(result);
    const std::uint32_t raised = _mm_getcsr() & mxcsr_flags;
    _mm_setcsr(host);
    cpu.fpu.mxcsr |= raised;
    if (raised & ~(cpu.fpu.mxcsr >> mxcsr_mask_shift))
        cpu.raise(cpu.cr4 & x86::cr4::osxmmexcpt ? x86::vector::simd_error
                                                 : x86::vector::invalid_opcode);
    return result;
}

inline __m128 as_float(__m128i value) {
    return _mm_castsi128_ps(value);
}
inline __m128d as_double(__m128i value) {
    return _mm_castsi128_pd(value);
}
inline __m128i as_bits(__m128 value) {
    return _mm_castps_si128(value);
}
inline __m128i as_bits(__m128d value) {
    return _mm_castpd_si128(value);
}

} // namespace vessel::soft::sse_host
