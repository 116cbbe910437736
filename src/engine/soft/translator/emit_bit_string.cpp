// Emitter, bit strings: bt/bts/btr/btc with a memory operand and the bit offset in a register,
// which the identity translation cannot run as is (the offset reaches beyond the operand).
#include "engine/soft/translator/emitter.hpp"

namespace vessel::soft::emit {

namespace {

bool bit_test_mnemonic(ZydisMnemonic mnemonic) {
    return mnemonic == ZYDIS_MNEMONIC_BT || mnemonic == ZYDIS_MNEMONIC_BTS ||
           mnemonic == ZYDIS_MNEMONIC_BTR || mnemonic == ZYDIS_MNEMONIC_BTC;
}

} // namespace

bool Emitter::bit_string(std::size_t k, const GuestInstruction& guest) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    if (!bit_test_mnemonic(instruction.mnemonic) || instruction.address_width != 64) return false;
    const ZydisDecodedOperand& memory = guest.operands[0];
    const ZydisDecodedOperand& offset = guest.operands[1];
    if (memory.type != ZYDIS_OPERAND_TYPE_MEMORY || memory.mem.type != ZYDIS_MEMOP_TYPE_MEM ||
        offset.type != ZYDIS_OPERAND_TYPE_REGISTER)
        return false;
    const int number = gpr_number(offset.reg.value);
    const unsigned size = instruction.operand_width; // 16, 32 or 64
    if (number < 0 || (size != 16 && size != 32 && size != 64)) return false;
    const bool locked = (instruction.attributes & ZYDIS_ATTRIB_HAS_LOCK) != 0;
    if (locked && instruction.mnemonic == ZYDIS_MNEMONIC_BT) return false; // #UD: interpreter
    const unsigned bytes = size / 8;
    // The signed offset in r13, sign-extended from the operand size.
    const auto load_offset = [&] {
        const bool in_host = guest_in_host_register(static_cast<unsigned>(number));
        const auto slot = r15 + m_layout.gpr + 8 * number; // low bytes first
        if (size == 64) {
            if (in_host)
                mov(r13, host64(number));
            else
                mov(r13, qword[slot]);
        } else if (size == 32) {
            if (in_host)
                movsxd(r13, Xbyak::Reg32(host64(number).getIdx()));
            else
                movsxd(r13, dword[slot]);
        } else {
            if (in_host)
                movsx(r13, Xbyak::Reg16(host64(number).getIdx()));
            else
                movsx(r13, word[slot]);
        }
    };
    Xbyak::Label& fallback = new_label();
    Xbyak::Label& after = new_label();
    save_flags(m_live); // the shift below clobbers the flags
    m_host_flags_valid = false;
    // The operand-sized unit holding the bit: address + bytes * (offset >> log2(size)), the
    // offset signed (Intel SDM Vol. 2, BT: "Effective Address + (4 * (BitOffset DIV 32))").
    address(guest, memory, true);
    load_offset();
    sar(r13, size == 64 ? 6 : size == 32 ? 5 : 4);
    lea(r14, ptr[r14 + r13 * static_cast<int>(bytes)]);
    const bool write = instruction.mnemonic != ZYDIS_MNEMONIC_BT;
    lookup(bytes, write, fallback);
    // The offset within the unit, so the host instruction reaches that unit alone.
    load_offset();
    and_(r13d, size - 1);
    // bt writes CF, leaves ZF, and leaves OF SF AF PF undefined: the guest's flags go in first
    // when one it keeps is live (as for identity()), without r13, which holds the offset.
    if (needs_guest_flags(guest)) {
        mov(qword[r15 + m_layout.spill], rax);
        mov(ax, word[r15 + m_layout.saved_flags]);
        add(al, 0x7f); // OF = (al == 1), as emit_restore_guest_flags
        sahf();
        mov(rax, qword[r15 + m_layout.spill]);
    }
    const Xbyak::RegExp where = looked_up(); // its prefix, then lock's: both prefix the access
    if (locked) lock();                      // atomic on the host address
    const Xbyak::Address unit = size == 64 ? qword[where] : size == 32 ? dword[where] : word[where];
    const Xbyak::Reg& bit = size == 64   ? static_cast<const Xbyak::Reg&>(r13)
                            : size == 32 ? static_cast<const Xbyak::Reg&>(r13d)
                                         : static_cast<const Xbyak::Reg&>(r13w);
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_BT:
        bt(unit, bit);
        break;
    case ZYDIS_MNEMONIC_BTS:
        bts(unit, bit);
        break;
    case ZYDIS_MNEMONIC_BTR:
        btr(unit, bit);
        break;
    default:
        btc(unit, bit);
        break;
    }
    flags_written();
    L(after);
    fallback_path(k, guest, fallback, after);
    ++m_out.native_ops;
    return true;
}

} // namespace vessel::soft::emit
