// InstructionDecoder: Zydis operands to DecodedOp operands, then handler selection.
#include "engine/soft/instruction_decoder.hpp"

#include <fmt/format.h>

#include "engine/soft/avx_operands.hpp"
#include "engine/soft/handlers.hpp"

namespace vessel::soft {

namespace {

void op_invalid(CpuCore& cpu, const DecodedOp&) {
    cpu.raise(x86::vector::invalid_opcode);
}

void op_unsupported(CpuCore& cpu, const DecodedOp& op) {
    cpu.fail(fmt::format("unsupported instruction {}",
                         ZydisMnemonicGetString(static_cast<ZydisMnemonic>(op.mnemonic))));
}

void op_not_advertised(CpuCore& cpu, const DecodedOp&) {
    cpu.raise(x86::vector::invalid_opcode);
}

/// A VEX instruction of AVX, AVX2, FMA or F16C without a handler: #UD where the model lacks
/// the extension or AVX is not enabled (as on such a CPU), an engine error otherwise.
void op_avx_unsupported(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx);
    op_unsupported(cpu, op);
}

bool avx_extension(ZydisISAExt extension) {
    return extension == ZYDIS_ISA_EXT_AVX || extension == ZYDIS_ISA_EXT_AVX2 ||
           extension == ZYDIS_ISA_EXT_AVX2GATHER || extension == ZYDIS_ISA_EXT_FMA ||
           extension == ZYDIS_ISA_EXT_F16C;
}

/// Whether the instruction belongs to an ISA extension the CPUID policy advertises (see
/// cpuid_policy.cpp). Instructions outside those are #UD, as on a CPU without the extension;
/// an unimplemented instruction inside them is an engine error, since a guest may rightly use it.
bool advertised_extension(ZydisISAExt extension) {
    switch (extension) {
    case ZYDIS_ISA_EXT_BASE:
    case ZYDIS_ISA_EXT_X87:
    case ZYDIS_ISA_EXT_MMX:
    case ZYDIS_ISA_EXT_SSE:
    case ZYDIS_ISA_EXT_SSE2:
    case ZYDIS_ISA_EXT_LONGMODE:
    case ZYDIS_ISA_EXT_CLFSH:
    case ZYDIS_ISA_EXT_PAUSE:
    // Implemented for the models that hold them (cpu_model.hpp); the handlers raise #UD on the
    // others.
    case ZYDIS_ISA_EXT_SSE3:
    case ZYDIS_ISA_EXT_SSSE3:
    case ZYDIS_ISA_EXT_SSE4:
    case ZYDIS_ISA_EXT_LZCNT:
    case ZYDIS_ISA_EXT_MOVBE:
    case ZYDIS_ISA_EXT_BMI1:
    case ZYDIS_ISA_EXT_BMI2:
    case ZYDIS_ISA_EXT_RDTSCP:
    case ZYDIS_ISA_EXT_XSAVE:
    case ZYDIS_ISA_EXT_XSAVEOPT:
    case ZYDIS_ISA_EXT_SMAP:
    case ZYDIS_ISA_EXT_PKU:
    case ZYDIS_ISA_EXT_RDRAND:
    case ZYDIS_ISA_EXT_RDSEED:
    case ZYDIS_ISA_EXT_RDPID:
    case ZYDIS_ISA_EXT_CLFLUSHOPT:
    case ZYDIS_ISA_EXT_CLWB:
        return true;
    default:
        return false;
    }
}

/// Whether the instruction names an MMX register: the mm forms without a handler (the float
/// conversions cvtpi2ps and the like) are #UD.
bool uses_mmx(const ZydisDecodedInstruction& instruction, const ZydisDecodedOperand* operands) {
    for (unsigned i = 0; i < instruction.operand_count; ++i)
        if (operands[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(operands[i].reg.value) == ZYDIS_REGCLASS_MMX)
            return true;
    return false;
}

bool fill_register(ZydisRegister reg, Operand& operand, unsigned size) {
    operand.size = static_cast<std::uint16_t>(size);
    const ZydisRegisterClass register_class = ZydisRegisterGetClass(reg);
    const auto id = static_cast<std::uint8_t>(ZydisRegisterGetId(reg));
    switch (register_class) {
    case ZYDIS_REGCLASS_GPR8:
        if (reg >= ZYDIS_REGISTER_AH && reg <= ZYDIS_REGISTER_BH) {
            operand.kind = OperandKind::GprHigh8;
            operand.index = static_cast<std::uint8_t>(reg - ZYDIS_REGISTER_AH);
        } else {
            operand.kind = OperandKind::Gpr;
            operand.index = reg <= ZYDIS_REGISTER_BL
                                ? static_cast<std::uint8_t>(reg - ZYDIS_REGISTER_AL)
                                : static_cast<std::uint8_t>(reg - ZYDIS_REGISTER_SPL + 4);
        }
        return true;
    case ZYDIS_REGCLASS_GPR16:
    case ZYDIS_REGCLASS_GPR32:
    case ZYDIS_REGCLASS_GPR64:
        operand.kind = OperandKind::Gpr;
        operand.index = id;
        return true;
    case ZYDIS_REGCLASS_SEGMENT:
        operand.kind = OperandKind::Segment;
        operand.index = id;
        return true;
    case ZYDIS_REGCLASS_CONTROL:
        operand.kind = OperandKind::Control;
        operand.index = id;
        return true;
    case ZYDIS_REGCLASS_DEBUG:
        operand.kind = OperandKind::Debug;
        operand.index = id;
        return true;
    case ZYDIS_REGCLASS_XMM:
    case ZYDIS_REGCLASS_YMM: // a ymm operand is an Xmm one of size 32
        operand.kind = OperandKind::Xmm;
        operand.index = id;
        return true;
    case ZYDIS_REGCLASS_X87:
        operand.kind = OperandKind::X87;
        operand.index = id;
        return true;
    case ZYDIS_REGCLASS_MMX:
        operand.kind = OperandKind::Mmx;
        operand.index = id;
        return true;
    default:
        return false;
    }
}

/// GPR number of a 16/32/64-bit address register, or no_register.
std::uint8_t address_register(ZydisRegister reg) {
    if (reg == ZYDIS_REGISTER_NONE) return no_register;
    const ZydisRegisterClass register_class = ZydisRegisterGetClass(reg);
    if (register_class == ZYDIS_REGCLASS_GPR16 || register_class == ZYDIS_REGCLASS_GPR32 ||
        register_class == ZYDIS_REGCLASS_GPR64)
        return static_cast<std::uint8_t>(ZydisRegisterGetId(reg));
    return no_register;
}

void fill_memory(const ZydisDecodedOperand& source, const ZydisDecodedInstruction& instruction,
                 DecodedOp& op) {
    MemoryOperand& memory = op.memory;
    const ZydisRegister segment = source.mem.segment;
    memory.segment = segment >= ZYDIS_REGISTER_ES && segment <= ZYDIS_REGISTER_GS
                         ? static_cast<std::uint8_t>(segment - ZYDIS_REGISTER_ES)
                         : static_cast<std::uint8_t>(ds);
    memory.rip_relative =
        source.mem.base == ZYDIS_REGISTER_RIP || source.mem.base == ZYDIS_REGISTER_EIP;
    memory.base = address_register(source.mem.base);
    memory.index = address_register(source.mem.index);
    const ZydisRegisterClass index_class = ZydisRegisterGetClass(source.mem.index);
    if (index_class == ZYDIS_REGCLASS_XMM || index_class == ZYDIS_REGCLASS_YMM) // VSIB
        memory.vector_index = static_cast<std::uint8_t>(ZydisRegisterGetId(source.mem.index));
    memory.scale_shift = source.mem.scale == 8   ? 3
                         : source.mem.scale == 4 ? 2
                         : source.mem.scale == 2 ? 1
                                                 : 0;
    memory.displacement = source.mem.disp.has_displacement ? source.mem.disp.value : 0;
    memory.address_size = static_cast<std::uint8_t>(instruction.address_width / 8);
}

bool is_stack_register(ZydisRegister reg) {
    return reg == ZYDIS_REGISTER_RSP || reg == ZYDIS_REGISTER_ESP || reg == ZYDIS_REGISTER_SP;
}

bool is_destination_index(ZydisRegister reg) {
    return reg == ZYDIS_REGISTER_RDI || reg == ZYDIS_REGISTER_EDI || reg == ZYDIS_REGISTER_DI;
}

} // namespace

InstructionDecoder::InstructionDecoder() {
    ZydisDecoderInit(&m_decoders[static_cast<int>(CpuMode::Real)], ZYDIS_MACHINE_MODE_REAL_16,
                     ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&m_decoders[static_cast<int>(CpuMode::Protected16)],
                     ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&m_decoders[static_cast<int>(CpuMode::Protected32)],
                     ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisDecoderInit(&m_decoders[static_cast<int>(CpuMode::Long64)], ZYDIS_MACHINE_MODE_LONG_64,
                     ZYDIS_STACK_WIDTH_64);
    ZydisDecoderInit(&m_decoders[static_cast<int>(CpuMode::Compat16)],
                     ZYDIS_MACHINE_MODE_LONG_COMPAT_16, ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&m_decoders[static_cast<int>(CpuMode::Compat32)],
                     ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32);
}

InstructionDecoder::Status InstructionDecoder::decode(CpuMode mode, const std::uint8_t* bytes,
                                                      std::size_t length, DecodedOp& op) const {
    ZydisDecodedInstruction instruction;
    ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
    op = DecodedOp{};
    const ZyanStatus status = ZydisDecoderDecodeFull(&m_decoders[static_cast<int>(mode)], bytes,
                                                     length, &instruction, operands);
    if (status == ZYDIS_STATUS_NO_MORE_DATA) return Status::Truncated;
    if (!ZYAN_SUCCESS(status)) {
        op.handler = &op_invalid;
        op.length = 1;
        op.ends_block = true;
        return Status::Invalid;
    }
    op.length = instruction.length;
    op.mnemonic = static_cast<std::uint16_t>(instruction.mnemonic);
    op.operand_size = static_cast<std::uint8_t>(instruction.operand_width / 8);
    if (op.operand_size == 0) op.operand_size = 4;
    op.memory.address_size = static_cast<std::uint8_t>(instruction.address_width / 8);
    op.lock = instruction.attributes & ZYDIS_ATTRIB_HAS_LOCK;
    if (instruction.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) op.rep = 1;
    if (instruction.attributes & ZYDIS_ATTRIB_HAS_REPNE) op.rep = 2;
    op.condition = instruction.opcode & 0xf;

    bool supported = true, have_memory = false, have_immediate = false;
    unsigned next = 0;
    for (unsigned i = 0; i < instruction.operand_count; ++i) {
        const ZydisDecodedOperand& source = operands[i];
        const bool visible = i < instruction.operand_count_visible;
        if (!visible) {
            // Hidden memory operands: string sources (rSI) and xlat (rBX) carry the segment.
            if (source.type == ZYDIS_OPERAND_TYPE_MEMORY && !have_memory &&
                !is_stack_register(source.mem.base) && !is_destination_index(source.mem.base)) {
                fill_memory(source, instruction, op);
                have_memory = true;
            }
            continue;
        }
        if (next >= 3) {
            // A fourth operand (VEX): an imm8 (vpblendd, vperm2i128) or the register of an
            // is4 byte (vblendvps), which the handlers read from op.immediate.
            if (source.type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
                op.immediate = source.imm.value.u;
            else if (source.type == ZYDIS_OPERAND_TYPE_REGISTER)
                op.immediate = ZydisRegisterGetId(source.reg.value);
            else
                supported = false;
            break;
        }
        Operand& operand = op.operands[next++];
        switch (source.type) {
        case ZYDIS_OPERAND_TYPE_REGISTER:
            if (!fill_register(source.reg.value, operand, source.size / 8)) supported = false;
            break;
        case ZYDIS_OPERAND_TYPE_MEMORY:
            operand.kind = OperandKind::Memory;
            operand.size = static_cast<std::uint16_t>(source.size / 8);
            // String instructions name es:[rDI] and [rSI]; op.memory keeps the rSI one, whose
            // segment can be overridden.
            if (!have_memory || !is_destination_index(source.mem.base))
                fill_memory(source, instruction, op);
            have_memory = true;
            break;
        case ZYDIS_OPERAND_TYPE_IMMEDIATE:
            operand.kind = OperandKind::Immediate;
            operand.size = static_cast<std::uint16_t>(source.size / 8);
            if (!have_immediate)
                op.immediate = source.imm.value.u;
            else
                op.immediate2 = source.imm.value.u;
            have_immediate = true;
            break;
        case ZYDIS_OPERAND_TYPE_POINTER:
            operand.kind = OperandKind::Immediate;
            op.immediate = source.ptr.offset;
            op.immediate2 = source.ptr.segment;
            break;
        default:
            supported = false;
            break;
        }
    }

    OpHandler handler = nullptr;
    if (supported) {
        handler = select_mmx_handler(instruction, op);
        if (handler == nullptr) handler = select_string_handler(instruction, op);
        if (handler == nullptr) handler = select_integer_handler(instruction, op);
        if (handler == nullptr) handler = select_control_handler(instruction, op);
        if (handler == nullptr) handler = select_system_handler(instruction, op);
        if (handler == nullptr) handler = select_protection_handler(instruction, op);
        if (handler == nullptr) handler = select_float_handler(instruction, op);
        if (handler == nullptr) handler = select_x87_math_handler(instruction, op);
        if (handler == nullptr) handler = select_x87_environment_handler(instruction, op);
        if (handler == nullptr) handler = select_legacy32_handler(instruction, op);
        if (handler == nullptr) handler = select_bit_manipulation_handler(instruction, op);
        if (handler == nullptr) handler = select_sse3_handler(instruction, op);
        if (handler == nullptr) handler = select_sse4_handler(instruction, op);
        if (handler == nullptr) handler = select_xsave_handler(instruction, op);
        if (handler == nullptr && (instruction.attributes & ZYDIS_ATTRIB_HAS_VEX))
            handler = select_avx_gather_handler(instruction, op);
        if (handler == nullptr && (instruction.attributes & ZYDIS_ATTRIB_HAS_VEX))
            handler = select_avx_handler(instruction, op);
    }
    if (handler == nullptr) {
        op.ends_block = true;
        if (avx_extension(instruction.meta.isa_ext)) {
            op.handler = &op_avx_unsupported;
            return Status::Unsupported;
        }
        if (!advertised_extension(instruction.meta.isa_ext) || uses_mmx(instruction, operands)) {
            op.handler = &op_not_advertised;
            return Status::Ok;
        }
        op.handler = &op_unsupported;
        return Status::Unsupported;
    }
    op.handler = handler;
    return Status::Ok;
}

} // namespace vessel::soft
