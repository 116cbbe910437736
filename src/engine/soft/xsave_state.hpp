// XSAVE architecture constants: XCR0 state components, CR4.OSXSAVE and the standard-format
// XSAVE area layout (Intel SDM Vol. 1, 13.1-13.4).
#pragma once

#include <cstdint>

namespace vessel::soft::xsave {

/// CR4.OSXSAVE (bit 18): XSETBV/XGETBV/XSAVE enabled by the OS (Intel SDM Vol. 3, 2.5).
constexpr std::uint64_t cr4_osxsave = 1u << 18;

/// XCR0 state components (Intel SDM Vol. 1, 13.1).
constexpr std::uint64_t x87 = 1u << 0; ///< x87 state, always set in XCR0
constexpr std::uint64_t sse = 1u << 1; ///< XMM registers and MXCSR
constexpr std::uint64_t ymm = 1u << 2; ///< bits 128-255 of the YMM registers (AVX)
/// The components a CPU with AVX supports (CPUID.(EAX=0DH,ECX=0):EAX).
constexpr std::uint64_t supported_with_avx = x87 | sse | ymm;

/// Standard-format layout (Intel SDM Vol. 1, 13.4): the FXSAVE-style legacy region, the header
/// (XSTATE_BV, XCOMP_BV, reserved), then the YMM_Hi128 component at its CPUID offset.
constexpr unsigned legacy_region_size = 512;
constexpr unsigned header_offset = 512;
constexpr unsigned header_size = 64;
constexpr unsigned ymm_offset = 576;
constexpr unsigned ymm_size = 256;
/// Size of the area for the components in `components` (CPUID.(EAX=0DH,ECX=0):EBX/ECX).
constexpr unsigned area_size(std::uint64_t components) {
    return (components & ymm) ? ymm_offset + ymm_size : legacy_region_size + header_size;
}

} // namespace vessel::soft::xsave
