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

/// The flags instruction `guest` reads and always writes as far as liveness goes: Zydis's
/// are trusted for what the translator runs itself; anything the interpreter runs counts as
/// reading every flag (pushf, syscall and int save them).
void flag_effects(const GuestInstruction& guest, std::uint32_t& tested, std::uint32_t& written) {
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
    tested = known ? guest.flags_tested : arithmetic_mask;
    written = guest.decoded && !repeated ? guest.flags_written : 0;
}

/// Fills each instruction's flags_live_in/out: flag liveness, backwards from the block's end
/// (where the flags in `live_at_end` count as read).
void compute_flag_liveness(std::span<GuestInstruction> instructions, std::uint32_t live_at_end) {
    std::uint32_t live = live_at_end;
    for (std::size_t k = instructions.size(); k-- > 0;) {
        GuestInstruction& guest = instructions[k];
        guest.flags_live_out = live;
        std::uint32_t tested = 0, written = 0;
        flag_effects(guest, tested, written);
        live = (live & ~written) | tested;
        guest.flags_live_in = live;
    }
}

/// Decodes one instruction of at most `length` bytes (exactly `length` when `exact`) into
/// `guest`, with the flags it reads and writes (decoded false: Zydis refused it, or the
/// translator does not take its extension).
void decode(const ZydisDecoder& decoder, GuestInstruction& guest, const std::uint8_t* bytes,
            std::size_t length, bool exact, std::uint64_t linear) {
    // A used element: every field not written below is set here (Zydis writes the
    // instruction and its operands; the liveness pass the live sets).
    guest.flags_tested = arithmetic_mask;
    guest.flags_written = 0;
    guest.flags_may_change = true;
    guest.renamed = false;
    guest.bytes = bytes;
    guest.linear = linear;
    const ZydisDecodedInstruction& instruction = guest.instruction;
    guest.decoded =
        ZYAN_SUCCESS(
            ZydisDecoderDecodeFull(&decoder, bytes, length, &guest.instruction, guest.operands)) &&
        (!exact || instruction.length == length) &&
        (instruction.meta.isa_ext == ZYDIS_ISA_EXT_BASE ||
         instruction.meta.isa_ext == ZYDIS_ISA_EXT_LONGMODE ||
         instruction.meta.isa_ext == ZYDIS_ISA_EXT_SSE ||
         instruction.meta.isa_ext == ZYDIS_ISA_EXT_SSE2 ||
         instruction.mnemonic == ZYDIS_MNEMONIC_TZCNT ||
         instruction.mnemonic == ZYDIS_MNEMONIC_LZCNT || extension_of(instruction.mnemonic) != 0 ||
         vex_extension(instruction) != 0 || instruction.mnemonic == ZYDIS_MNEMONIC_VZEROUPPER ||
         instruction.mnemonic == ZYDIS_MNEMONIC_FNSTCW ||
         instruction.mnemonic == ZYDIS_MNEMONIC_CMPXCHG16B ||
         instruction.mnemonic == ZYDIS_MNEMONIC_CMPXCHG8B ||
         instruction.mnemonic == ZYDIS_MNEMONIC_PAUSE);
    guest.next = linear + (guest.decoded ? instruction.length : length);
    // tzcnt/lzcnt are bsf/bsr or the real counts depending on the CPU model: the emitter
    // (encode_identity) picks. Other extensions run as is only under a model with them
    // (the emitter checks).
    if (guest.decoded && instruction.cpu_flags != nullptr) {
        const ZydisAccessedFlags& flags = *instruction.cpu_flags;
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
}

} // namespace

std::span<GuestInstruction> analyze_block(const ZydisDecoder& decoder, const CodeBlock& block,
                                          const std::uint8_t* bytes, std::uint64_t linear,
                                          std::vector<GuestInstruction>& buffer,
                                          std::uint32_t live_at_end) {
    if (buffer.size() < block.ops.size()) buffer.resize(block.ops.size());
    const std::span<GuestInstruction> instructions(buffer.data(), block.ops.size());
    std::uint64_t offset = 0;
    for (std::size_t k = 0; k < block.ops.size(); ++k) {
        decode(decoder, instructions[k], bytes + offset, block.ops[k].length, true,
               linear + offset);
        offset += block.ops[k].length;
    }
    compute_flag_liveness(instructions, live_at_end);
    return instructions;
}

std::uint32_t flags_read_on_entry(const ZydisDecoder& decoder, const std::uint8_t* bytes,
                                  std::size_t available) {
    constexpr unsigned look_ahead = 8;
    GuestInstruction guest;
    std::uint32_t read = 0, written = 0;
    for (unsigned n = 0; n < look_ahead && available > 0 && written != arithmetic_mask; ++n) {
        decode(decoder, guest, bytes, available, false, 0);
        if (!guest.decoded) break;
        std::uint32_t tested = 0, writes = 0;
        flag_effects(guest, tested, writes);
        read |= tested & ~written;
        written |= writes;
        // Past a branch the flags go where it goes; past the page, to bytes not looked at.
        if (guest.instruction.meta.branch_type != ZYDIS_BRANCH_TYPE_NONE) break;
        bytes += guest.instruction.length;
        available -= guest.instruction.length;
    }
    return (read | ~written) & arithmetic_mask;
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
            !(identity_mnemonic(mnemonic) || mnemonic == ZYDIS_MNEMONIC_LEA) ||
            mnemonic == ZYDIS_MNEMONIC_DIV)
            break;
        if (guest.flags_written == arithmetic_mask) return true;
    }
    return false;
}

} // namespace vessel::soft
