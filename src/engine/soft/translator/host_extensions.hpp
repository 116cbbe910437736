// What the host CPU runs as is: the extensions translated code may use the host's own
// instructions for (asked once, with Xbyak's CPUID probe, which also checks OS support).
#pragma once

#include <cstdint>

#include <Zydis/Zydis.h>

namespace vessel::soft {

/// Whether the host CPU has BMI2 (rorx).
bool host_has_bmi2();
/// Whether the host runs the instructions of extension(s) `bits` (isa:: bits, cpu_model.hpp).
bool host_has_extension(std::uint32_t bits);
/// Whether the host runs tzcnt (BMI1) or lzcnt (LZCNT) as such.
bool host_counts(ZydisMnemonic mnemonic);

} // namespace vessel::soft
