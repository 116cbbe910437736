// x87 instruction handlers (the common subset) and fxsave/fxrstor; SSE lives in ops_sse.cpp.
#include <cmath>
#include <cstring>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/x87_stack.hpp"

namespace vessel::soft {

namespace {

using x87::check_fpu;
using x87::pop;
using x87::push;
using x87::st;
using x87::status_c0;
using x87::status_c2;
using x87::status_c3;
using x87::status_top_shift;
using x87::status_word;

long double read_real(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t address = cpu.linear_address(op);
    switch (op.operands[0].size) {
    case 4: {
        const auto bits = static_cast<std::uint32_t>(cpu.read<4>(address));
        float value;
        std::memcpy(&value, &bits, 4);
        return value;
    }
    case 8: {
        const std::uint64_t bits = cpu.read<8>(address);
        double value;
        std::memcpy(&value, &bits, 8);
        return value;
    }
    default: {
        long double value = 0;
        cpu.read_block(address, &value, 10); // host long double is the x87 80-bit format
        return value;
    }
    }
}

void write_real(CpuCore& cpu, const DecodedOp& op, long double value) {
    const std::uint64_t address = cpu.linear_address(op);
    switch (op.operands[0].size) {
    case 4: {
        const auto narrow = static_cast<float>(value);
        std::uint32_t bits;
        std::memcpy(&bits, &narrow, 4);
        cpu.write<4>(address, bits);
        break;
    }
    case 8: {
        const auto narrow = static_cast<double>(value);
        std::uint64_t bits;
        std::memcpy(&bits, &narrow, 8);
        cpu.write<8>(address, bits);
        break;
    }
    default:
        cpu.write_block(address, &value, 10);
        break;
    }
}

std::int64_t read_integer(CpuCore& cpu, const DecodedOp& op) {
    const std::uint64_t address = cpu.linear_address(op);
    const unsigned size = op.operands[0].size;
    return sign_extend(cpu.read_sized(address, size), size);
}

/// fist/fistp round as the control word says, fisttp always toward zero.
void write_integer(CpuCore& cpu, const DecodedOp& op, long double value, bool truncate) {
    const unsigned size = op.operands[0].size;
    const long double rounded = truncate ? std::trunc(value) : x87::round_to_integer(cpu, value);
    const long double limit = std::ldexp(1.0L, static_cast<int>(8 * size - 1));
    std::int64_t result;
    if (std::isnan(rounded) || rounded >= limit || rounded < -limit)
        result = static_cast<std::int64_t>(sign_bit(size)); // integer indefinite
    else
        result = static_cast<std::int64_t>(rounded);
    cpu.write_sized(cpu.linear_address(op), size, static_cast<std::uint64_t>(result));
}

// ---- loads and stores ----

void op_fld(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    if (op.operands[0].kind == OperandKind::X87)
        push(cpu, st(cpu, op.operands[0].index));
    else
        push(cpu, read_real(cpu, op));
}

void op_fild(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    push(cpu, static_cast<long double>(read_integer(cpu, op)));
}

template <bool Pop> void op_fst(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    if (op.operands[0].kind == OperandKind::X87)
        st(cpu, op.operands[0].index) = st(cpu, 0);
    else
        write_real(cpu, op, st(cpu, 0));
    if (Pop) pop(cpu);
}

template <bool Pop, bool Truncate> void op_fist(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    write_integer(cpu, op, st(cpu, 0), Truncate);
    if (Pop) pop(cpu);
}

template <int Constant> void op_fload_constant(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    switch (Constant) {
    case 0:
        push(cpu, 0.0L);
        break;
    case 1:
        push(cpu, 1.0L);
        break;
    case 2:
        push(cpu, 3.14159265358979323846264338327950288L);
        break;
    case 3:
        push(cpu, 1.44269504088896340735992468100189214L);
        break; // log2(e)
    case 4:
        push(cpu, 0.693147180559945309417232121458176568L);
        break; // ln(2)
    case 5:
        push(cpu, 0.301029995663981195213738894724493027L);
        break; // log10(2)
    default:
        push(cpu, 3.32192809488736234787031942948939018L);
        break; // log2(10)
    }
}

// ---- arithmetic ----

enum class Arith { Add, Sub, SubReverse, Mul, Div, DivReverse };

template <Arith K, bool Pop, bool Integer> void op_farith(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    long double* destination;
    long double source;
    if (op.operands[0].kind == OperandKind::Memory) {
        destination = &st(cpu, 0);
        source = Integer ? static_cast<long double>(read_integer(cpu, op)) : read_real(cpu, op);
    } else if (op.operands[1].kind == OperandKind::X87) {
        destination = &st(cpu, op.operands[0].index);
        source = st(cpu, op.operands[1].index);
    } else {
        // faddp with no operands: st(1) = st(1) op st(0)
        destination = &st(cpu, 1);
        source = st(cpu, 0);
    }
    long double& d = *destination;
    switch (K) {
    case Arith::Add:
        d = d + source;
        break;
    case Arith::Sub:
        d = d - source;
        break;
    case Arith::SubReverse:
        d = source - d;
        break;
    case Arith::Mul:
        d = d * source;
        break;
    case Arith::Div:
        d = d / source;
        break;
    case Arith::DivReverse:
        d = source / d;
        break;
    }
    if (Pop) pop(cpu);
}

template <int K> void op_funary(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    long double& value = st(cpu, 0);
    switch (K) {
    case 0:
        value = -value;
        break;
    case 1:
        value = std::fabs(value);
        break;
    case 2:
        value = std::sqrt(value);
        break;
    default: // frndint
        value = x87::round_to_integer(cpu, value);
        break;
    }
}

void op_fxch(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    const unsigned other = op.operands[0].kind == OperandKind::X87 ? op.operands[0].index : 1;
    std::swap(st(cpu, 0), st(cpu, other));
}

// ---- comparisons ----

/// fcomi/fucomi(p): result in ZF/PF/CF.
template <bool Pop> void op_fcomi(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    const unsigned other = op.operands[1].kind == OperandKind::X87 ? op.operands[1].index : 1;
    const long double a = st(cpu, 0), b = st(cpu, other);
    std::uint64_t flags = cpu.flags() & ~arithmetic_flags;
    if (std::isunordered(a, b))
        flags |= x86::rflags::zf | x86::rflags::pf | x86::rflags::cf;
    else if (a < b)
        flags |= x86::rflags::cf;
    else if (a == b)
        flags |= x86::rflags::zf;
    cpu.set_flags(flags);
    if (Pop) pop(cpu);
}

/// fcom/fucom/ftst family: result in C0/C2/C3; Pops = 0, 1 or 2.
template <int Pops, bool Test> void op_fcom(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    long double b = 0;
    if (!Test) {
        if (op.operands[0].kind == OperandKind::Memory)
            b = read_real(cpu, op);
        else if (op.operands[1].kind == OperandKind::X87)
            b = st(cpu, op.operands[1].index);
        else
            b = st(cpu, op.operands[0].kind == OperandKind::X87 && op.operands[0].index != 0
                            ? op.operands[0].index
                            : 1);
    }
    const long double a = st(cpu, 0);
    std::uint16_t status = cpu.fpu.status & ~(status_c0 | status_c2 | status_c3);
    if (std::isunordered(a, b))
        status |= status_c0 | status_c2 | status_c3;
    else if (a < b)
        status |= status_c0;
    else if (a == b)
        status |= status_c3;
    cpu.fpu.status = status;
    for (int i = 0; i < Pops; ++i)
        pop(cpu);
}

// ---- control ----

void op_fninit(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    cpu.fpu.control = 0x37f;
    cpu.fpu.status = 0;
    cpu.fpu.top = 0;
    cpu.fpu.tag_valid = 0;
}

void op_fnclex(CpuCore& cpu, const DecodedOp&) {
    check_fpu(cpu);
    cpu.fpu.status &= 0x7f00;
}

void op_fnstsw(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    if (op.operands[0].kind == OperandKind::Gpr)
        cpu.set_reg<2>(x86::rax, status_word(cpu));
    else
        cpu.write<2>(cpu.linear_address(op), status_word(cpu));
}

void op_fnstcw(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    cpu.write<2>(cpu.linear_address(op), cpu.fpu.control);
}

void op_fldcw(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    cpu.fpu.control = static_cast<std::uint16_t>(cpu.read<2>(cpu.linear_address(op)));
}

void op_ffree(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    cpu.fpu.tag_valid &= ~(1u << ((cpu.fpu.top + op.operands[0].index) & 7));
}

void op_fwait(CpuCore& cpu, const DecodedOp&) {
    if ((cpu.cr0 & (x86::cr0::mp | x86::cr0::ts)) == (x86::cr0::mp | x86::cr0::ts))
        cpu.raise(x86::vector::device_not_available);
}

// ---- fxsave / fxrstor (Intel SDM Vol. 2, FXSAVE, table 3-53) ----

void op_fxsave(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    const std::uint64_t address = cpu.linear_address(op);
    if (address & 15) cpu.raise(x86::vector::general_protection, 0);
    std::uint8_t area[512] = {};
    const std::uint16_t status = status_word(cpu);
    std::memcpy(area + 0, &cpu.fpu.control, 2);
    std::memcpy(area + 2, &status, 2);
    std::uint8_t abridged_tag = 0;
    for (unsigned i = 0; i < 8; ++i)
        if (cpu.fpu.tag_valid & (1u << i)) abridged_tag |= static_cast<std::uint8_t>(1u << i);
    area[4] = abridged_tag;
    std::memcpy(area + 24, &cpu.fpu.mxcsr, 4);
    const std::uint32_t mxcsr_mask = 0xffff;
    std::memcpy(area + 28, &mxcsr_mask, 4);
    for (unsigned i = 0; i < 8; ++i)
        std::memcpy(area + 32 + 16 * i, &st(cpu, i), 10);
    const unsigned xmm_count = cpu.mode == CpuMode::Long64 ? 16 : 8;
    for (unsigned i = 0; i < xmm_count; ++i)
        std::memcpy(area + 160 + 16 * i, cpu.fpu.xmm[i].q, 16);
    cpu.write_block(address, area, 512);
}

void op_fxrstor(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    const std::uint64_t address = cpu.linear_address(op);
    if (address & 15) cpu.raise(x86::vector::general_protection, 0);
    std::uint8_t area[512];
    cpu.read_block(address, area, 512);
    std::uint32_t mxcsr;
    std::memcpy(&mxcsr, area + 24, 4);
    if (mxcsr & ~0xffffu) cpu.raise(x86::vector::general_protection, 0);
    std::uint16_t status;
    std::memcpy(&cpu.fpu.control, area + 0, 2);
    std::memcpy(&status, area + 2, 2);
    cpu.fpu.top = (status >> status_top_shift) & 7;
    cpu.fpu.status = status & ~(7u << status_top_shift);
    cpu.fpu.tag_valid = area[4];
    cpu.fpu.mxcsr = mxcsr;
    for (unsigned i = 0; i < 8; ++i) {
        long double value = 0;
        std::memcpy(&value, area + 32 + 16 * i, 10);
        st(cpu, i) = value;
    }
    const unsigned xmm_count = cpu.mode == CpuMode::Long64 ? 16 : 8;
    for (unsigned i = 0; i < xmm_count; ++i)
        std::memcpy(cpu.fpu.xmm[i].q, area + 160 + 16 * i, 16);
}

} // namespace

OpHandler select_float_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_FLD:
        return &op_fld;
    case ZYDIS_MNEMONIC_FILD:
        return &op_fild;
    case ZYDIS_MNEMONIC_FST:
        return &op_fst<false>;
    case ZYDIS_MNEMONIC_FSTP:
        return &op_fst<true>;
    case ZYDIS_MNEMONIC_FIST:
        return &op_fist<false, false>;
    case ZYDIS_MNEMONIC_FISTP:
        return &op_fist<true, false>;
    case ZYDIS_MNEMONIC_FISTTP:
        return &op_fist<true, true>;
    case ZYDIS_MNEMONIC_FLDZ:
        return &op_fload_constant<0>;
    case ZYDIS_MNEMONIC_FLD1:
        return &op_fload_constant<1>;
    case ZYDIS_MNEMONIC_FLDPI:
        return &op_fload_constant<2>;
    case ZYDIS_MNEMONIC_FLDL2E:
        return &op_fload_constant<3>;
    case ZYDIS_MNEMONIC_FLDLN2:
        return &op_fload_constant<4>;
    case ZYDIS_MNEMONIC_FLDLG2:
        return &op_fload_constant<5>;
    case ZYDIS_MNEMONIC_FLDL2T:
        return &op_fload_constant<6>;
    case ZYDIS_MNEMONIC_FADD:
        return &op_farith<Arith::Add, false, false>;
    case ZYDIS_MNEMONIC_FADDP:
        return &op_farith<Arith::Add, true, false>;
    case ZYDIS_MNEMONIC_FIADD:
        return &op_farith<Arith::Add, false, true>;
    case ZYDIS_MNEMONIC_FSUB:
        return &op_farith<Arith::Sub, false, false>;
    case ZYDIS_MNEMONIC_FSUBP:
        return &op_farith<Arith::Sub, true, false>;
    case ZYDIS_MNEMONIC_FISUB:
        return &op_farith<Arith::Sub, false, true>;
    case ZYDIS_MNEMONIC_FSUBR:
        return &op_farith<Arith::SubReverse, false, false>;
    case ZYDIS_MNEMONIC_FSUBRP:
        return &op_farith<Arith::SubReverse, true, false>;
    case ZYDIS_MNEMONIC_FISUBR:
        return &op_farith<Arith::SubReverse, false, true>;
    case ZYDIS_MNEMONIC_FMUL:
        return &op_farith<Arith::Mul, false, false>;
    case ZYDIS_MNEMONIC_FMULP:
        return &op_farith<Arith::Mul, true, false>;
    case ZYDIS_MNEMONIC_FIMUL:
        return &op_farith<Arith::Mul, false, true>;
    case ZYDIS_MNEMONIC_FDIV:
        return &op_farith<Arith::Div, false, false>;
    case ZYDIS_MNEMONIC_FDIVP:
        return &op_farith<Arith::Div, true, false>;
    case ZYDIS_MNEMONIC_FIDIV:
        return &op_farith<Arith::Div, false, true>;
    case ZYDIS_MNEMONIC_FDIVR:
        return &op_farith<Arith::DivReverse, false, false>;
    case ZYDIS_MNEMONIC_FDIVRP:
        return &op_farith<Arith::DivReverse, true, false>;
    case ZYDIS_MNEMONIC_FIDIVR:
        return &op_farith<Arith::DivReverse, false, true>;
    case ZYDIS_MNEMONIC_FCHS:
        return &op_funary<0>;
    case ZYDIS_MNEMONIC_FABS:
        return &op_funary<1>;
    case ZYDIS_MNEMONIC_FSQRT:
        return &op_funary<2>;
    case ZYDIS_MNEMONIC_FRNDINT:
        return &op_funary<3>;
    case ZYDIS_MNEMONIC_FXCH:
        return &op_fxch;
    case ZYDIS_MNEMONIC_FCOMI:
    case ZYDIS_MNEMONIC_FUCOMI:
        return &op_fcomi<false>;
    case ZYDIS_MNEMONIC_FCOMIP:
    case ZYDIS_MNEMONIC_FUCOMIP:
        return &op_fcomi<true>;
    case ZYDIS_MNEMONIC_FCOM:
    case ZYDIS_MNEMONIC_FUCOM:
        return &op_fcom<0, false>;
    case ZYDIS_MNEMONIC_FCOMP:
    case ZYDIS_MNEMONIC_FUCOMP:
        return &op_fcom<1, false>;
    case ZYDIS_MNEMONIC_FCOMPP:
    case ZYDIS_MNEMONIC_FUCOMPP:
        return &op_fcom<2, false>;
    case ZYDIS_MNEMONIC_FTST:
        return &op_fcom<0, true>;
    case ZYDIS_MNEMONIC_FNINIT:
        return &op_fninit;
    case ZYDIS_MNEMONIC_FNCLEX:
        return &op_fnclex;
    case ZYDIS_MNEMONIC_FNSTSW:
        return &op_fnstsw;
    case ZYDIS_MNEMONIC_FNSTCW:
        return &op_fnstcw;
    case ZYDIS_MNEMONIC_FLDCW:
        return &op_fldcw;
    case ZYDIS_MNEMONIC_FFREE:
        return &op_ffree;
    case ZYDIS_MNEMONIC_FWAIT:
        return &op_fwait;
    case ZYDIS_MNEMONIC_FNOP:
    // 8087/287 control instructions that later FPUs execute as no operation (Intel SDM Vol. 1,
    // 8.8: FENI, FDISI, FSETPM).
    case ZYDIS_MNEMONIC_FDISI8087_NOP:
    case ZYDIS_MNEMONIC_FENI8087_NOP:
    case ZYDIS_MNEMONIC_FSETPM287_NOP:
        return &op_fwait;
    case ZYDIS_MNEMONIC_FXSAVE:
    case ZYDIS_MNEMONIC_FXSAVE64:
        return &op_fxsave;
    case ZYDIS_MNEMONIC_FXRSTOR:
    case ZYDIS_MNEMONIC_FXRSTOR64:
        return &op_fxrstor;
    default:
        return select_sse_handler(instruction, op);
    }
}

} // namespace vessel::soft
