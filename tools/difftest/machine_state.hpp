// MachineState: the user-visible CPU and memory state a difftest sequence starts from and ends in.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace vessel::difftest {

/// Where a sequence lives, identical natively and in the engine (linear addresses below 2 GiB so
/// that absolute disp32 operands reach them).
namespace layout {
constexpr std::uint64_t code_address = 0x7000'0000;
constexpr std::uint64_t code_size = 0x1000;
constexpr std::uint64_t data_address = 0x7001'0000;
constexpr std::uint64_t data_size = 0x4000;
/// Initial RSP (the stack grows down inside the data buffer, so pushes are compared too).
constexpr std::uint64_t stack_top = data_address + 0x2000;
/// R15 holds this during a whole sequence: the base of [r15 + disp] operands.
constexpr std::uint64_t data_base_register_value = data_address + 0x1000;
} // namespace layout

/// How a sequence run ended.
enum class Outcome : std::uint8_t {
    Completed, ///< reached the terminating ud2
    Faulted,   ///< an exception (vector) before the terminator
    Crashed,   ///< native child died or timed out; engine failed (unsupported instruction)
};

struct MachineState {
    std::array<std::uint64_t, 16> gpr{};
    std::uint64_t rip{0};
    std::uint64_t rflags{0x2};
    std::array<std::array<std::uint64_t, 2>, 16> xmm{};
    std::uint32_t mxcsr{0x1f80};
    std::array<std::array<std::uint64_t, 2>, 16> ymm_upper{}; ///< bits 128-255 of ymm0-15
    std::array<std::uint8_t, layout::data_size> data{};

    Outcome outcome{Outcome::Completed};
    std::uint8_t vector{0}; ///< exception vector when Faulted (6 = the terminating ud2)
    std::string message;    ///< why it Crashed
};

} // namespace vessel::difftest
