// Instruction classes: the mnemonic tables behind identity translation and GPR numbering.
#include "engine/soft/translator/instruction_classes.hpp"

#include "engine/soft/cpu_model.hpp"

namespace vessel::soft {

/// Guest GPR number (0-15) of a general-purpose register of any width, or -1. `high` is set
/// for ah/ch/dh/bh.
int gpr_number(ZydisRegister reg, bool* high) {
    if (high != nullptr) *high = false;
    switch (ZydisRegisterGetClass(reg)) {
    case ZYDIS_REGCLASS_GPR64:
        return reg - ZYDIS_REGISTER_RAX;
    case ZYDIS_REGCLASS_GPR32:
        return reg - ZYDIS_REGISTER_EAX;
    case ZYDIS_REGCLASS_GPR16:
        return reg - ZYDIS_REGISTER_AX;
    case ZYDIS_REGCLASS_GPR8:
        if (reg >= ZYDIS_REGISTER_AH && reg <= ZYDIS_REGISTER_BH) {
            if (high != nullptr) *high = true;
            return reg - ZYDIS_REGISTER_AH;
        }
        if (reg <= ZYDIS_REGISTER_BL) return reg - ZYDIS_REGISTER_AL;
        if (reg <= ZYDIS_REGISTER_DIL) return reg - ZYDIS_REGISTER_SPL + 4;
        return reg - ZYDIS_REGISTER_R8B + 8;
    default:
        return -1;
    }
}

/// The register of the same width as `reg` numbered `number`.
ZydisRegister with_number(ZydisRegister reg, unsigned number) {
    switch (ZydisRegisterGetClass(reg)) {
    case ZYDIS_REGCLASS_GPR64:
        return static_cast<ZydisRegister>(ZYDIS_REGISTER_RAX + number);
    case ZYDIS_REGCLASS_GPR32:
        return static_cast<ZydisRegister>(ZYDIS_REGISTER_EAX + number);
    case ZYDIS_REGCLASS_GPR16:
        return static_cast<ZydisRegister>(ZYDIS_REGISTER_AX + number);
    default:
        if (number < 4) return static_cast<ZydisRegister>(ZYDIS_REGISTER_AL + number);
        if (number < 8) return static_cast<ZydisRegister>(ZYDIS_REGISTER_SPL + number - 4);
        return static_cast<ZydisRegister>(ZYDIS_REGISTER_R8B + number - 8);
    }
}

/// Instructions whose effect is the same on host registers and host memory as on the guest's:
/// they run unchanged (identity translation). Signed division is absent (a host #DE would be a
/// signal; unsigned division is guarded), as are instructions touching the stack, segments,
/// MXCSR or system state.
bool identity_mnemonic(ZydisMnemonic mnemonic) {
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
    case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT:
    case ZYDIS_MNEMONIC_SHL:
    case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR:
    case ZYDIS_MNEMONIC_RCL:
    case ZYDIS_MNEMONIC_RCR:
    case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD:
    case ZYDIS_MNEMONIC_IMUL:
    case ZYDIS_MNEMONIC_MUL:
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
    case ZYDIS_MNEMONIC_BSF:
    case ZYDIS_MNEMONIC_BSR:
    case ZYDIS_MNEMONIC_TZCNT: // as bsf/bsr without BMI1/LZCNT in the model: encode_identity
    case ZYDIS_MNEMONIC_LZCNT:
    case ZYDIS_MNEMONIC_BSWAP:
    case ZYDIS_MNEMONIC_XCHG:
    case ZYDIS_MNEMONIC_CMPXCHG:
    case ZYDIS_MNEMONIC_CMPXCHG8B:
    case ZYDIS_MNEMONIC_CMPXCHG16B: // its 16-byte operand is alignment-checked (needs_alignment)
    case ZYDIS_MNEMONIC_XADD:
    case ZYDIS_MNEMONIC_LFENCE:
    case ZYDIS_MNEMONIC_MFENCE:
    case ZYDIS_MNEMONIC_SFENCE:
    case ZYDIS_MNEMONIC_CBW:
    case ZYDIS_MNEMONIC_CWDE:
    case ZYDIS_MNEMONIC_CDQE:
    case ZYDIS_MNEMONIC_CWD:
    case ZYDIS_MNEMONIC_CDQ:
    case ZYDIS_MNEMONIC_CQO:
    case ZYDIS_MNEMONIC_NOP:
    case ZYDIS_MNEMONIC_SETB:
    case ZYDIS_MNEMONIC_SETBE:
    case ZYDIS_MNEMONIC_SETL:
    case ZYDIS_MNEMONIC_SETLE:
    case ZYDIS_MNEMONIC_SETNB:
    case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_SETNL:
    case ZYDIS_MNEMONIC_SETNLE:
    case ZYDIS_MNEMONIC_SETNO:
    case ZYDIS_MNEMONIC_SETNP:
    case ZYDIS_MNEMONIC_SETNS:
    case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_SETO:
    case ZYDIS_MNEMONIC_SETP:
    case ZYDIS_MNEMONIC_SETS:
    case ZYDIS_MNEMONIC_SETZ:
    case ZYDIS_MNEMONIC_CMOVB:
    case ZYDIS_MNEMONIC_CMOVBE:
    case ZYDIS_MNEMONIC_CMOVL:
    case ZYDIS_MNEMONIC_CMOVLE:
    case ZYDIS_MNEMONIC_CMOVNB:
    case ZYDIS_MNEMONIC_CMOVNBE:
    case ZYDIS_MNEMONIC_CMOVNL:
    case ZYDIS_MNEMONIC_CMOVNLE:
    case ZYDIS_MNEMONIC_CMOVNO:
    case ZYDIS_MNEMONIC_CMOVNP:
    case ZYDIS_MNEMONIC_CMOVNS:
    case ZYDIS_MNEMONIC_CMOVNZ:
    case ZYDIS_MNEMONIC_CMOVO:
    case ZYDIS_MNEMONIC_CMOVP:
    case ZYDIS_MNEMONIC_CMOVS:
    case ZYDIS_MNEMONIC_CMOVZ:
    case ZYDIS_MNEMONIC_DIV: // guarded: see division_guard
    // SSE/SSE2 moves, integer and bitwise operations: none reads or writes MXCSR, so the
    // host's MXCSR cannot change their result.
    case ZYDIS_MNEMONIC_MOVAPS:
    case ZYDIS_MNEMONIC_MOVAPD:
    case ZYDIS_MNEMONIC_MOVUPS:
    case ZYDIS_MNEMONIC_MOVUPD:
    case ZYDIS_MNEMONIC_MOVDQA:
    case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_MOVQ:
    case ZYDIS_MNEMONIC_MOVD:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_MOVSS:
    case ZYDIS_MNEMONIC_MOVLPS:
    case ZYDIS_MNEMONIC_MOVHPS:
    case ZYDIS_MNEMONIC_MOVLPD:
    case ZYDIS_MNEMONIC_MOVHPD:
    case ZYDIS_MNEMONIC_MOVHLPS:
    case ZYDIS_MNEMONIC_MOVLHPS:
    case ZYDIS_MNEMONIC_MOVNTDQ:
    case ZYDIS_MNEMONIC_MOVNTPS:
    case ZYDIS_MNEMONIC_MOVNTPD:
    case ZYDIS_MNEMONIC_MOVNTI:
    case ZYDIS_MNEMONIC_MOVMSKPS:
    case ZYDIS_MNEMONIC_MOVMSKPD:
    case ZYDIS_MNEMONIC_PMOVMSKB:
    case ZYDIS_MNEMONIC_PXOR:
    case ZYDIS_MNEMONIC_POR:
    case ZYDIS_MNEMONIC_PAND:
    case ZYDIS_MNEMONIC_PANDN:
    case ZYDIS_MNEMONIC_XORPS:
    case ZYDIS_MNEMONIC_XORPD:
    case ZYDIS_MNEMONIC_ANDPS:
    case ZYDIS_MNEMONIC_ANDPD:
    case ZYDIS_MNEMONIC_ANDNPS:
    case ZYDIS_MNEMONIC_ANDNPD:
    case ZYDIS_MNEMONIC_ORPS:
    case ZYDIS_MNEMONIC_ORPD:
    case ZYDIS_MNEMONIC_PCMPEQB:
    case ZYDIS_MNEMONIC_PCMPEQW:
    case ZYDIS_MNEMONIC_PCMPEQD:
    case ZYDIS_MNEMONIC_PCMPGTB:
    case ZYDIS_MNEMONIC_PCMPGTW:
    case ZYDIS_MNEMONIC_PCMPGTD:
    case ZYDIS_MNEMONIC_PADDB:
    case ZYDIS_MNEMONIC_PADDW:
    case ZYDIS_MNEMONIC_PADDD:
    case ZYDIS_MNEMONIC_PADDQ:
    case ZYDIS_MNEMONIC_PSUBB:
    case ZYDIS_MNEMONIC_PSUBW:
    case ZYDIS_MNEMONIC_PSUBD:
    case ZYDIS_MNEMONIC_PSUBQ:
    case ZYDIS_MNEMONIC_PADDUSB:
    case ZYDIS_MNEMONIC_PADDUSW:
    case ZYDIS_MNEMONIC_PSUBUSB:
    case ZYDIS_MNEMONIC_PSUBUSW:
    case ZYDIS_MNEMONIC_PADDSB:
    case ZYDIS_MNEMONIC_PADDSW:
    case ZYDIS_MNEMONIC_PSUBSB:
    case ZYDIS_MNEMONIC_PSUBSW:
    case ZYDIS_MNEMONIC_PMINUB:
    case ZYDIS_MNEMONIC_PMAXUB:
    case ZYDIS_MNEMONIC_PMINSW:
    case ZYDIS_MNEMONIC_PMAXSW:
    case ZYDIS_MNEMONIC_PAVGB:
    case ZYDIS_MNEMONIC_PAVGW:
    case ZYDIS_MNEMONIC_PSADBW:
    case ZYDIS_MNEMONIC_PMULLW:
    case ZYDIS_MNEMONIC_PMULHW:
    case ZYDIS_MNEMONIC_PMULHUW:
    case ZYDIS_MNEMONIC_PMULUDQ:
    case ZYDIS_MNEMONIC_PMADDWD:
    case ZYDIS_MNEMONIC_PSHUFD:
    case ZYDIS_MNEMONIC_PSHUFLW:
    case ZYDIS_MNEMONIC_PSHUFHW:
    case ZYDIS_MNEMONIC_SHUFPS:
    case ZYDIS_MNEMONIC_SHUFPD:
    case ZYDIS_MNEMONIC_PUNPCKLBW:
    case ZYDIS_MNEMONIC_PUNPCKLWD:
    case ZYDIS_MNEMONIC_PUNPCKLDQ:
    case ZYDIS_MNEMONIC_PUNPCKLQDQ:
    case ZYDIS_MNEMONIC_PUNPCKHBW:
    case ZYDIS_MNEMONIC_PUNPCKHWD:
    case ZYDIS_MNEMONIC_PUNPCKHDQ:
    case ZYDIS_MNEMONIC_PUNPCKHQDQ:
    case ZYDIS_MNEMONIC_UNPCKLPS:
    case ZYDIS_MNEMONIC_UNPCKHPS:
    case ZYDIS_MNEMONIC_UNPCKLPD:
    case ZYDIS_MNEMONIC_UNPCKHPD:
    case ZYDIS_MNEMONIC_PACKUSWB:
    case ZYDIS_MNEMONIC_PACKSSWB:
    case ZYDIS_MNEMONIC_PACKSSDW:
    case ZYDIS_MNEMONIC_PSLLW:
    case ZYDIS_MNEMONIC_PSLLD:
    case ZYDIS_MNEMONIC_PSLLQ:
    case ZYDIS_MNEMONIC_PSRLW:
    case ZYDIS_MNEMONIC_PSRLD:
    case ZYDIS_MNEMONIC_PSRLQ:
    case ZYDIS_MNEMONIC_PSRAW:
    case ZYDIS_MNEMONIC_PSRAD:
    case ZYDIS_MNEMONIC_PSLLDQ:
    case ZYDIS_MNEMONIC_PSRLDQ:
    case ZYDIS_MNEMONIC_PEXTRW:
    case ZYDIS_MNEMONIC_PINSRW:
        return true;
    default:
        return extension_of(mnemonic) != 0;
    }
}

bool plain_register_mnemonic(ZydisMnemonic mnemonic) {
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
    case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT:
        return true;
    default:
        return false;
    }
}

/// Later extensions the translator runs as is where the guest's CPU model has them (else the
/// interpreter raises #UD) and so does the host. Integer and move instructions only: none
/// reads or writes MXCSR.
std::uint32_t extension_of(ZydisMnemonic mnemonic) {
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_LDDQU:
    case ZYDIS_MNEMONIC_MOVDDUP:
    case ZYDIS_MNEMONIC_MOVSHDUP:
    case ZYDIS_MNEMONIC_MOVSLDUP:
        return isa::sse3;
    case ZYDIS_MNEMONIC_PSHUFB:
    case ZYDIS_MNEMONIC_PALIGNR:
    case ZYDIS_MNEMONIC_PABSB:
    case ZYDIS_MNEMONIC_PABSW:
    case ZYDIS_MNEMONIC_PABSD:
    case ZYDIS_MNEMONIC_PMADDUBSW:
    case ZYDIS_MNEMONIC_PMULHRSW:
    case ZYDIS_MNEMONIC_PHADDW:
    case ZYDIS_MNEMONIC_PHADDD:
    case ZYDIS_MNEMONIC_PHADDSW:
    case ZYDIS_MNEMONIC_PHSUBW:
    case ZYDIS_MNEMONIC_PHSUBD:
    case ZYDIS_MNEMONIC_PHSUBSW:
    case ZYDIS_MNEMONIC_PSIGNB:
    case ZYDIS_MNEMONIC_PSIGNW:
    case ZYDIS_MNEMONIC_PSIGND:
        return isa::ssse3;
    case ZYDIS_MNEMONIC_PMINSB:
    case ZYDIS_MNEMONIC_PMINSD:
    case ZYDIS_MNEMONIC_PMINUW:
    case ZYDIS_MNEMONIC_PMINUD:
    case ZYDIS_MNEMONIC_PMAXSB:
    case ZYDIS_MNEMONIC_PMAXSD:
    case ZYDIS_MNEMONIC_PMAXUW:
    case ZYDIS_MNEMONIC_PMAXUD:
    case ZYDIS_MNEMONIC_PMULLD:
    case ZYDIS_MNEMONIC_PMULDQ:
    case ZYDIS_MNEMONIC_PCMPEQQ:
    case ZYDIS_MNEMONIC_PACKUSDW:
    case ZYDIS_MNEMONIC_PMOVZXBW:
    case ZYDIS_MNEMONIC_PMOVZXBD:
    case ZYDIS_MNEMONIC_PMOVZXBQ:
    case ZYDIS_MNEMONIC_PMOVZXWD:
    case ZYDIS_MNEMONIC_PMOVZXWQ:
    case ZYDIS_MNEMONIC_PMOVZXDQ:
    case ZYDIS_MNEMONIC_PMOVSXBW:
    case ZYDIS_MNEMONIC_PMOVSXBD:
    case ZYDIS_MNEMONIC_PMOVSXBQ:
    case ZYDIS_MNEMONIC_PMOVSXWD:
    case ZYDIS_MNEMONIC_PMOVSXWQ:
    case ZYDIS_MNEMONIC_PMOVSXDQ:
    case ZYDIS_MNEMONIC_PEXTRB:
    case ZYDIS_MNEMONIC_PEXTRD:
    case ZYDIS_MNEMONIC_PEXTRQ:
    case ZYDIS_MNEMONIC_PINSRB:
    case ZYDIS_MNEMONIC_PINSRD:
    case ZYDIS_MNEMONIC_PINSRQ:
    case ZYDIS_MNEMONIC_PTEST:
    case ZYDIS_MNEMONIC_PBLENDW:
    case ZYDIS_MNEMONIC_PHMINPOSUW:
        return isa::sse41;
    case ZYDIS_MNEMONIC_PCMPGTQ:
    case ZYDIS_MNEMONIC_PCMPISTRI:
        return isa::sse42;
    case ZYDIS_MNEMONIC_POPCNT:
        return isa::popcnt;
    case ZYDIS_MNEMONIC_MOVBE:
        return isa::movbe;
    case ZYDIS_MNEMONIC_ANDN:
    case ZYDIS_MNEMONIC_BEXTR:
    case ZYDIS_MNEMONIC_BLSI:
    case ZYDIS_MNEMONIC_BLSMSK:
    case ZYDIS_MNEMONIC_BLSR:
        return isa::bmi1;
    case ZYDIS_MNEMONIC_BZHI:
    case ZYDIS_MNEMONIC_MULX:
    case ZYDIS_MNEMONIC_PDEP:
    case ZYDIS_MNEMONIC_PEXT:
    case ZYDIS_MNEMONIC_RORX:
    case ZYDIS_MNEMONIC_SARX:
    case ZYDIS_MNEMONIC_SHLX:
    case ZYDIS_MNEMONIC_SHRX:
        return isa::bmi2;
    default:
        return 0;
    }
}

/// SSE/SSE2 floating point: runs under the guest's MXCSR (see mxcsr_enter), and only while the
/// guest masks every SSE exception.
bool floating_point_mnemonic(ZydisMnemonic mnemonic) {
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_ADDSD:
    case ZYDIS_MNEMONIC_ADDSS:
    case ZYDIS_MNEMONIC_ADDPD:
    case ZYDIS_MNEMONIC_ADDPS:
    case ZYDIS_MNEMONIC_SUBSD:
    case ZYDIS_MNEMONIC_SUBSS:
    case ZYDIS_MNEMONIC_SUBPD:
    case ZYDIS_MNEMONIC_SUBPS:
    case ZYDIS_MNEMONIC_MULSD:
    case ZYDIS_MNEMONIC_MULSS:
    case ZYDIS_MNEMONIC_MULPD:
    case ZYDIS_MNEMONIC_MULPS:
    case ZYDIS_MNEMONIC_DIVSD:
    case ZYDIS_MNEMONIC_DIVSS:
    case ZYDIS_MNEMONIC_DIVPD:
    case ZYDIS_MNEMONIC_DIVPS:
    case ZYDIS_MNEMONIC_SQRTSD:
    case ZYDIS_MNEMONIC_SQRTSS:
    case ZYDIS_MNEMONIC_SQRTPD:
    case ZYDIS_MNEMONIC_SQRTPS:
    case ZYDIS_MNEMONIC_MINSD:
    case ZYDIS_MNEMONIC_MINSS:
    case ZYDIS_MNEMONIC_MINPD:
    case ZYDIS_MNEMONIC_MINPS:
    case ZYDIS_MNEMONIC_MAXSD:
    case ZYDIS_MNEMONIC_MAXSS:
    case ZYDIS_MNEMONIC_MAXPD:
    case ZYDIS_MNEMONIC_MAXPS:
    case ZYDIS_MNEMONIC_CVTSI2SD:
    case ZYDIS_MNEMONIC_CVTSI2SS:
    case ZYDIS_MNEMONIC_CVTSD2SS:
    case ZYDIS_MNEMONIC_CVTSS2SD:
    case ZYDIS_MNEMONIC_CVTTSD2SI:
    case ZYDIS_MNEMONIC_CVTSD2SI:
    case ZYDIS_MNEMONIC_CVTTSS2SI:
    case ZYDIS_MNEMONIC_CVTSS2SI:
    case ZYDIS_MNEMONIC_CVTDQ2PD:
    case ZYDIS_MNEMONIC_CVTDQ2PS:
    case ZYDIS_MNEMONIC_CVTPD2DQ:
    case ZYDIS_MNEMONIC_CVTTPD2DQ:
    case ZYDIS_MNEMONIC_CVTPS2DQ:
    case ZYDIS_MNEMONIC_CVTTPS2DQ:
    case ZYDIS_MNEMONIC_CVTPD2PS:
    case ZYDIS_MNEMONIC_CVTPS2PD:
    case ZYDIS_MNEMONIC_COMISD:
    case ZYDIS_MNEMONIC_COMISS:
    case ZYDIS_MNEMONIC_UCOMISD:
    case ZYDIS_MNEMONIC_UCOMISS:
    case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_CMPSS:
    case ZYDIS_MNEMONIC_CMPPD:
    case ZYDIS_MNEMONIC_CMPPS:
        return true;
    default:
        return false;
    }
}

/// Moves whose destination register ends up fully written (32-bit writes zero-extend).
bool replaces_destination(ZydisMnemonic mnemonic) {
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
    case ZYDIS_MNEMONIC_MOVD:
    case ZYDIS_MNEMONIC_MOVQ:
    case ZYDIS_MNEMONIC_PMOVMSKB:
    case ZYDIS_MNEMONIC_MOVMSKPS:
    case ZYDIS_MNEMONIC_MOVMSKPD:
        return true;
    default:
        return false;
    }
}

/// Whether a legacy-SSE instruction's 16-byte memory operand must be 16-byte aligned (#GP
/// otherwise; Intel SDM Vol. 1, 11.4.1): all but the explicitly unaligned moves.
bool needs_alignment(ZydisMnemonic mnemonic) {
    // lddqu is an unaligned load by design; the string compares take any address (SDM Vol. 2,
    // PCMPISTRI: "no alignment requirement").
    return mnemonic != ZYDIS_MNEMONIC_MOVUPS && mnemonic != ZYDIS_MNEMONIC_MOVUPD &&
           mnemonic != ZYDIS_MNEMONIC_MOVDQU && mnemonic != ZYDIS_MNEMONIC_LDDQU &&
           mnemonic != ZYDIS_MNEMONIC_PCMPISTRI;
}

/// The condition code (Intel SDM Vol. 1, B.1) of a jcc, or -1.
int branch_condition(ZydisMnemonic mnemonic) {
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_JO:
        return 0x0;
    case ZYDIS_MNEMONIC_JNO:
        return 0x1;
    case ZYDIS_MNEMONIC_JB:
        return 0x2;
    case ZYDIS_MNEMONIC_JNB:
        return 0x3;
    case ZYDIS_MNEMONIC_JZ:
        return 0x4;
    case ZYDIS_MNEMONIC_JNZ:
        return 0x5;
    case ZYDIS_MNEMONIC_JBE:
        return 0x6;
    case ZYDIS_MNEMONIC_JNBE:
        return 0x7;
    case ZYDIS_MNEMONIC_JS:
        return 0x8;
    case ZYDIS_MNEMONIC_JNS:
        return 0x9;
    case ZYDIS_MNEMONIC_JP:
        return 0xa;
    case ZYDIS_MNEMONIC_JNP:
        return 0xb;
    case ZYDIS_MNEMONIC_JL:
        return 0xc;
    case ZYDIS_MNEMONIC_JNL:
        return 0xd;
    case ZYDIS_MNEMONIC_JLE:
        return 0xe;
    case ZYDIS_MNEMONIC_JNLE:
        return 0xf;
    default:
        return -1;
    }
}

} // namespace vessel::soft
