// Instruction classes: what the translator may run as is, and the register arithmetic it needs.
#pragma once

#include <cstdint>

#include <Zydis/Zydis.h>

namespace vessel::soft {

/// Guest GPR number (0-15) of a general-purpose register of any width, or -1. `high` is set
/// for ah/ch/dh/bh.
int gpr_number(ZydisRegister reg, bool* high = nullptr);
/// The register of the same width as `reg` numbered `number`.
ZydisRegister with_number(ZydisRegister reg, unsigned number);
/// Instructions whose effect is the same on host registers and host memory as on the guest's:
/// they run unchanged (identity translation).
/// (Including the extensions below: check extension_of first.)
bool identity_mnemonic(ZydisMnemonic mnemonic);
/// The moves and arithmetic among identity_mnemonic's that never fault and, on general
/// registers and immediates, always run as themselves (never through the interpreter): a run of
/// pushes may keep rsp's move pending across them (Emitter::move_stack).
bool plain_register_mnemonic(ZydisMnemonic mnemonic);
/// The isa:: bit (cpu_model.hpp) of an identity instruction from a later extension (SSE3 to
/// SSE4.2, POPCNT, MOVBE, BMI1, BMI2), 0 for the baseline.
std::uint32_t extension_of(ZydisMnemonic mnemonic);
/// SSE/SSE2 floating point: runs under the guest's MXCSR, only while it masks every exception.
bool floating_point_mnemonic(ZydisMnemonic mnemonic);
/// Moves whose destination register ends up fully written (32-bit writes zero-extend).
bool replaces_destination(ZydisMnemonic mnemonic);
/// Whether a legacy-SSE instruction's 16-byte memory operand must be 16-byte aligned.
bool needs_alignment(ZydisMnemonic mnemonic);
/// The condition code (Intel SDM Vol. 1, B.1) of a jcc, or -1.
int branch_condition(ZydisMnemonic mnemonic);

} // namespace vessel::soft
