// Identity translation's plan for one instruction: which guest registers it names live where on
// the host (renamed to scratch registers around it, or held in a host register), and its host
// encoding with those names and [r14] for its memory operand.
#pragma once

#include <cstdint>

#include <Zydis/Zydis.h>

#include "engine/soft/translator/block_analysis.hpp"
#include "engine/soft/translator/jit_runtime.hpp"

namespace vessel::soft {

/// How an identity-translated instruction's operands map onto host resources.
struct IdentityPlan {
    int memory_operand{-1};
    unsigned renamed{0};  ///< guest GPRs kept in memory, renamed to r13, then r14
    bool remapped{false}; ///< uses a guest GPR held in a host register of another number
    int renamed_guest[2]{-1, -1};
    bool renamed_written[2]{false, false}; ///< stored back after the instruction
    /// Loaded before it; a register only written by a move needs no load (stored back whole
    /// after a 32- or 64-bit one, which zero-extends, else only the bytes it wrote).
    bool renamed_read[2]{false, false};
    unsigned renamed_size[2]{0, 0}; ///< widest operand width using it, in bits
    unsigned vector_bytes{0};       ///< VEX: 16 (VEX.128) or 32 (VEX.256); 0: legacy SSE
    unsigned xmm_renamed{0};        ///< guest XMM/YMM registers, renamed to host 0-2
    int xmm_guest[3]{-1, -1, -1};
    bool xmm_written[3]{false, false, false};
    bool xmm_read[3]{false, false, false};
    bool mxcsr{false}; ///< reads or writes MXCSR: floating point
};

/// The host registers renamed guest GPRs run in: r13, and r14 when no memory operand needs it
/// for its address.
inline constexpr unsigned rename_host[2] = {host_scratch, host_address_scratch};

/// Fills `plan`; false when an operand cannot be run as is (implicit rsp, r12-r15, a second
/// memory operand, a register class other than GPR, flags, XMM or YMM).
bool plan_identity(const GuestInstruction& guest, IdentityPlan& plan);
/// The host encoding of the instruction with renamed registers and [r14 + displacement] for
/// its memory operand, or gs:[r14d + displacement] when `aliased` (Emitter::looked_up); the guest
/// bytes when nothing changes. False when it cannot be encoded. `isa_features` are the guest
/// model's (tzcnt/lzcnt are bsf/bsr without BMI1/LZCNT). `base` names another host register
/// for an aliased operand's base than r14 (gs:[base32 + displacement]), `index` (a host
/// register, or -1) an index with `scale` (gs:[base32 + index32 * scale + displacement]).
bool encode_identity(const GuestInstruction& guest, const IdentityPlan& plan,
                     std::uint32_t isa_features, std::uint8_t* bytes, ZyanUSize& length,
                     bool aliased = false, std::int32_t displacement = 0,
                     unsigned base = host_address_scratch, int index = -1, unsigned scale = 0);

} // namespace vessel::soft
