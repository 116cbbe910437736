// Handler selection: maps a Zydis-decoded instruction to the interpreter function that runs it.
#pragma once

#include <Zydis/Zydis.h>

#include "engine/soft/decoded_op.hpp"

namespace vessel::soft {

/// Each returns the handler for the instruction, or nullptr when its group does not cover it.
/// They may adjust `op` (operand size, block end) for the chosen handler.
OpHandler select_integer_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_control_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_string_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_system_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
/// STAC, CLAC, RDPKRU, WRPKRU, RDRAND, RDSEED, RDPID, CLFLUSH, CLFLUSHOPT, CLWB
/// (ops_protection.cpp).
OpHandler select_protection_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_float_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_x87_math_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_x87_environment_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_legacy32_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
/// SSE/SSE2: moves first, then the xmm forms of the integer and floating-point instructions.
OpHandler select_sse_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_sse_move_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_sse_integer_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_sse_float_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
/// SSE3 and SSSE3 (ops_sse3.cpp), SSE4.1 and SSE4.2 (ops_sse4.cpp), and the GPR bit-manipulation
/// extensions POPCNT, LZCNT, MOVBE, BMI1, BMI2 (ops_bit_manipulation.cpp).
OpHandler select_sse3_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_sse4_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_bit_manipulation_handler(const ZydisDecodedInstruction& instruction,
                                          DecodedOp& op);
/// Instructions naming mm registers, and emms (ops_mmx.cpp).
OpHandler select_mmx_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
/// XGETBV, XSETBV, XSAVE, XSAVEOPT, XRSTOR (ops_xsave.cpp).
OpHandler select_xsave_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
/// VEX-encoded AVX, AVX2, FMA and F16C instructions: moves and the rest (ops_avx_move.cpp), and
/// the arithmetic the host's unit runs (ops_avx_arithmetic.cpp).
OpHandler select_avx_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
OpHandler select_avx_arithmetic_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);
/// AVX2 gathers with VSIB addressing (ops_avx_gather.cpp).
OpHandler select_avx_gather_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op);

} // namespace vessel::soft
