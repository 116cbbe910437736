// VEX-encoded vector instructions (AVX, AVX2) the translator runs as themselves on the host's
// YMM registers: integer arithmetic, logic, compares, moves, shuffles and permutes. None reads
// or writes MXCSR, so no floating-point exception can come of them.
#pragma once

#include <cstdint>

#include <Zydis/Zydis.h>

namespace vessel::soft {

/// The isa:: bits (cpu_model.hpp) the guest's model and the host must both have for
/// `instruction` to run as is: isa::avx, or isa::avx | isa::avx2 for an AVX2 encoding; 0 for an
/// instruction that is not VEX-encoded or not one of the translated ones (gathers, floating
/// point, FMA, F16C and BMI go elsewhere).
std::uint32_t vex_extension(const ZydisDecodedInstruction& instruction);
/// Whether the memory operand of VEX instruction `mnemonic` must be aligned to its size
/// (vmovdqa, vmovaps, vmovapd and the non-temporal moves; Intel SDM Vol. 2, 2.8 exception
/// class 1). Every other VEX memory operand may be unaligned.
bool vex_needs_alignment(ZydisMnemonic mnemonic);

} // namespace vessel::soft
