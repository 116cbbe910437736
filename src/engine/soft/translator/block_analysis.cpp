// Block analysis: Zydis decoding, flag reads and writes, backward flag liveness.
#include "engine/soft/translator/block_analysis.hpp"
#include "engine/soft/translator/instruction_classes.hpp"
#include "engine/soft/translator/vex_instructions.hpp"

namespace vessel::soft {

namespace {

/// Whether a shift or rotate may have a count of 0 after masking (Intel SDM Vol. 2, SAL/SAR/
/// SHL/SHR: "If the count is 0, the flags are not affected"), so that it writes no flag.
bool count_may_be_zero(const GuestInstruction& guest) {
    switch (guest.instruction.mnemonic) {
    case ZYDIS_MNEMONIC_SHL:
    case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR:
    case ZYDIS_MNEMONIC_RCL:
    case ZYDIS_MNEMONIC_RCR:
    case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD:
        break;
    default:
        return false;
    }
    const unsigned mask = guest.instruction.operand_width == 64 ? 0x3f : 0x1f;
    for (unsigned i = 0; i < guest.instruction.operand_count_visible; ++i) {
        const ZydisDecodedOperand& operand = guest.operands[i];
        if (i > 0 && operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
            return (operand.imm.value.u & mask) == 0;
    }
    return true; // count in cl
}

/// Fills each instruction's flags_live_in/out: flag liveness, backwards from the block's end
/// (where every flag counts as read).
void compute_flag_liveness(std::span<GuestInstruction> instructions) {
    std::uint32_t live = arithmetic_mask;
    for (std::size_t k = instructions.size(); k-- > 0;) {
        GuestInstruction& guest = instructions[k];
        guest.flags_live_out = live;
        // Zydis's flag reads are trusted for what the translator runs itself; anything the
        // interpreter runs counts as reading every flag (pushf, syscall and int save them).
        const ZydisMnemonic mnemonic = guest.instruction.mnemonic;
        // A repeated string instruction with a count of 0 writes no flag (and cmpsd is also the
        // name of an SSE2 compare): never trust its flag writes.
        const bool repeated =
            (guest.instruction.attributes &
             (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) != 0 ||
            guest.instruction.meta.category == ZYDIS_CATEGORY_STRINGOP;
        const bool known = guest.decoded && !repeated &&
                           (identity_mnemonic(mnemonic) || floating_point_mnemonic(mnemonic) ||
                            branch_condition(mnemonic) >= 0 || mnemonic == ZYDIS_MNEMONIC_LEA ||
                            mnemonic == ZYDIS_MNEMONIC_NOP || mnemonic == ZYDIS_MNEMONIC_PUSH ||
                            mnemonic == ZYDIS_MNEMONIC_POP || mnemonic == ZYDIS_MNEMONIC_JMP ||
                            mnemonic == ZYDIS_MNEMONIC_CALL || mnemonic == ZYDIS_MNEMONIC_RET);
        const std::uint32_t tested = known ? guest.flags_tested : arithmetic_mask;
        const std::uint32_t written = guest.decoded && !repeated ? guest.flags_written : 0;
        live = (live & ~written) | tested;
        guest.flags_live_in = live;
    }
}

} // namespace

std::span<GuestInstruction> analyze_block(const ZydisDecoder& decoder, const CodeBlock& block,
                                          const std::uint8_t* bytes, std::uint64_t linear,
                                          std::vector<GuestInstruction>& buffer) {
    if (buffer.size() < block.ops.size()) buffer.resize(block.ops.size());
    const std::span<GuestInstruction> instructions(buffer.data(), block.ops.size());
    std::uint64_t offset = 0;
    for (std::size_t k = 0; k < block.ops.size(); ++k) {
        GuestInstruction& guest = instructions[k];
        // A used element: every field not written below is set here (Zydis writes the
        // instruction and its operands; the liveness pass the live sets).
        guest.flags_tested = arithmetic_mask;
        guest.flags_written = 0;
        guest.flags_may_change = true;
        guest.bytes = bytes + offset;
        guest.linear = linear + offset;
        guest.next = guest.linear + block.ops[k].length;
        guest.decoded =
            ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, guest.bytes, block.ops[k].length,
                                                &guest.instruction, guest.operands)) &&
            guest.instruction.length == block.ops[k].length &&
            (guest.instruction.meta.isa_ext == ZYDIS_ISA_EXT_BASE ||
             guest.instruction.meta.isa_ext == ZYDIS_ISA_EXT_LONGMODE ||
             guest.instruction.meta.isa_ext == ZYDIS_ISA_EXT_SSE ||
             guest.instruction.meta.isa_ext == ZYDIS_ISA_EXT_SSE2 ||
             guest.instruction.mnemonic == ZYDIS_MNEMONIC_TZCNT ||
             guest.instruction.mnemonic == ZYDIS_MNEMONIC_LZCNT ||
             extension_of(guest.instruction.mnemonic) != 0 ||
             vex_extension(guest.instruction) != 0 ||
             guest.instruction.mnemonic == ZYDIS_MNEMONIC_VZEROUPPER ||
             guest.instruction.mnemonic == ZYDIS_MNEMONIC_FNSTCW ||
             guest.instruction.mnemonic == ZYDIS_MNEMONIC_CMPXCHG16B ||
             guest.instruction.mnemonic == ZYDIS_MNEMONIC_CMPXCHG8B ||
             guest.instruction.mnemonic == ZYDIS_MNEMONIC_PAUSE);
        // tzcnt/lzcnt are bsf/bsr or the real counts depending on the CPU model: the emitter
        // (encode_identity) picks. Other extensions run as is only under a model with them
        // (the emitter checks).
        if (guest.decoded && guest.instruction.cpu_flags != nullptr) {
            const ZydisAccessedFlags& flags = *guest.instruction.cpu_flags;
            guest.flags_tested = flags.tested & arithmetic_mask;
            guest.flags_written =
                (flags.modified | flags.set_0 | flags.set_1 | flags.undefined) & arithmetic_mask;
            guest.flags_may_change = guest.flags_written != 0;
            if (count_may_be_zero(guest)) {
                // A shift or rotate by 0 leaves every flag as it was: the old flags flow
                // through, so nothing counts as written (what is live after it is live before
                // it; the emitter gives it the guest's flags when any is).
                guest.flags_written = 0;
            }
        }
        offset += block.ops[k].length;
    }
    compute_flag_liveness(instructions);
    return instructions;
}

bool flags_dead_at_entry(std::span<const GuestInstruction> instructions,
                         const std::function<bool(std::size_t)>& access_cannot_fault) {
    for (std::size_t k = 0; k < instructions.size(); ++k) {
        const GuestInstruction& guest = instructions[k];
        if (!guest.decoded || guest.flags_tested != 0) break;
        const ZydisMnemonic mnemonic = guest.instruction.mnemonic;
        bool touches_memory = false;
        for (unsigned i = 0; i < guest.instruction.operand_count; ++i)
            touches_memory |= guest.operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
                              guest.operands[i].mem.type == ZYDIS_MEMOP_TYPE_MEM;
        if ((touches_memory && !(access_cannot_fault && access_cannot_fault(k))) ||
            !identity_mnemonic(mnemonic) || mnemonic == ZYDIS_MNEMONIC_DIV)
            break;
        if (guest.flags_written == arithmetic_mask) return true;
    }
    return false;
}

} // namespace vessel::soft
