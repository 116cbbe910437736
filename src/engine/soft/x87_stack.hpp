// x87 register stack helpers shared by the x87 handler files (Intel SDM Vol. 1, chapter 8).
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/soft/cpu_core.hpp"

namespace vessel::soft::x87 {

/// x87 status word bits (Intel SDM Vol. 1, 8.1.3).
constexpr std::uint16_t status_c0 = 1u << 8;
constexpr std::uint16_t status_c1 = 1u << 9;
constexpr std::uint16_t status_c2 = 1u << 10;
constexpr std::uint16_t status_c3 = 1u << 14;
constexpr std::uint16_t status_condition_mask = status_c0 | status_c1 | status_c2 | status_c3;
constexpr std::uint16_t status_top_shift = 11;
/// Control word: the six exception mask bits (Intel SDM Vol. 1, 8.1.5).
constexpr std::uint16_t control_exception_masks = 0x3f;
/// Control word rounding control RC, bits 11:10 (Intel SDM Vol. 1, 8.1.5.3 and table 4-8).
constexpr unsigned control_rounding_shift = 10;
constexpr unsigned rounding_nearest = 0;
constexpr unsigned rounding_down = 1;
constexpr unsigned rounding_up = 2;
constexpr unsigned rounding_toward_zero = 3;

/// #NM when CR0.TS or CR0.EM says the FPU is not available (Intel SDM Vol. 3, 2.5).
inline void check_fpu(CpuCore& cpu) {
    if (cpu.cr0 & (x86::cr0::em | x86::cr0::ts)) cpu.raise(x86::vector::device_not_available);
}

/// `value` rounded to an integer as the control word's RC field says (fist, fistp, frndint).
inline long double round_to_integer(const CpuCore& cpu, long double value) {
    switch ((cpu.fpu.control >> control_rounding_shift) & 3) {
    case rounding_down:
        return std::floor(value);
    case rounding_up:
        return std::ceil(value);
    case rounding_toward_zero:
        return std::trunc(value);
    default: // rounding_nearest: ties to even, whatever the host's own rounding mode is
        return ::roundevenl(value);
    }
}

/// ST(i): the register i places below the top of the stack.
inline long double& st(CpuCore& cpu, unsigned i) {
    return cpu.fpu.st[(cpu.fpu.top + i) & 7];
}
inline bool st_empty(const CpuCore& cpu, unsigned i) {
    return (cpu.fpu.tag_valid & (1u << ((cpu.fpu.top + i) & 7))) == 0;
}

inline void push(CpuCore& cpu, long double value) {
    cpu.fpu.top = (cpu.fpu.top - 1) & 7;
    cpu.fpu.st[cpu.fpu.top] = value;
    cpu.fpu.tag_valid |= 1u << cpu.fpu.top;
}

inline void pop(CpuCore& cpu) {
    cpu.fpu.tag_valid &= ~(1u << cpu.fpu.top);
    cpu.fpu.top = (cpu.fpu.top + 1) & 7;
}

/// The status word with TOP in bits 13:11.
inline std::uint16_t status_word(const CpuCore& cpu) {
    return static_cast<std::uint16_t>((cpu.fpu.status & ~(7u << status_top_shift)) |
                                      (cpu.fpu.top << status_top_shift));
}

/// Sets C0-C3 to `conditions` (a combination of the status_cN bits), leaving the rest.
inline void set_conditions(CpuCore& cpu, std::uint16_t conditions) {
    cpu.fpu.status = static_cast<std::uint16_t>((cpu.fpu.status & ~status_condition_mask) |
                                                (conditions & status_condition_mask));
}

} // namespace vessel::soft::x87
