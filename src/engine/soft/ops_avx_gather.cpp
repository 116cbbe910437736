// AVX2 gathers (vpgatherdd/dq/qd/qq, vgatherdps/dpd/qps/qpd): VSIB addressing, one element
// at a time under the mask, restartable after a fault (Intel SDM Vol. 2, VPGATHERDD and
// VGATHERDPS, and 2.3.12 "Vector SIB (VSIB) memory addressing").
#include "engine/soft/avx_operands.hpp"
#include "engine/soft/handlers.hpp"

namespace vessel::soft {

namespace {

/// The shape of one gather: data elements of `Data` bytes addressed by index elements of
/// `Index` bytes (dd/ps: 4/4, dq/pd: 8/4, qd/ps: 4/8, qq/pd: 8/8).
template <unsigned Data, unsigned Index> struct GatherShape {
    /// Elements gathered: the wider of the two element kinds fills the vector length.
    static unsigned count(unsigned vector_length) {
        return vector_length / (Data > Index ? Data : Index);
    }
};

std::uint64_t element(const Vec& vector, unsigned size, unsigned i) {
    return size == 4 ? vector.get<std::uint32_t>(i) : vector.get<std::uint64_t>(i);
}

void set_element(Vec& vector, unsigned size, unsigned i, std::uint64_t value) {
    if (size == 4)
        vector.set<std::uint32_t>(i, static_cast<std::uint32_t>(value));
    else
        vector.set<std::uint64_t>(i, value);
}

/// Index element i sign-extended to 64 bits (VSIB, Intel SDM Vol. 2, 2.3.12).
std::uint64_t signed_index(const Vec& index, unsigned size, unsigned i) {
    if (size == 4) return static_cast<std::uint64_t>(std::int64_t{index.get<std::int32_t>(i)});
    return index.get<std::uint64_t>(i);
}

/// Linear address of element i: base + sign-extended index * scale + displacement, in the
/// address size, plus the segment base.
std::uint64_t element_address(const CpuCore& cpu, const DecodedOp& op, const Vec& index,
                              unsigned index_size, unsigned i) {
    const MemoryOperand& memory = op.memory;
    std::uint64_t offset = static_cast<std::uint64_t>(memory.displacement);
    if (memory.base != no_register) offset += cpu.gpr[memory.base];
    offset += signed_index(index, index_size, i) << memory.scale_shift;
    return cpu.linear(memory.segment, offset & size_mask(memory.address_size));
}

/// vpgather* / vgather*: dest (operand 0) merges the gathered elements, the mask (operand 2)
/// selects them by each element's sign bit. Elements complete in order from the lowest; each
/// clears its mask element, so a fault leaves the ones below it done and the instruction
/// restarts with the rest. At the end the mask is zero and the bits beyond the elements of the
/// destination and mask are cleared (VLMAX).
template <unsigned Data, unsigned Index> void op_gather(CpuCore& cpu, const DecodedOp& op) {
    check_avx_state(cpu, isa::avx2);
    const unsigned destination = op.operands[0].index, mask_register = op.operands[2].index;
    const unsigned index_register = op.memory.vector_index;
    // #UD when any two of destination, index and mask are the same register (Intel SDM Vol. 2,
    // VPGATHERDD "Exceptions"), and for 16-bit addressing.
    if (destination == mask_register || destination == index_register ||
        mask_register == index_register || op.memory.address_size == 2)
        cpu.raise(x86::vector::invalid_opcode);
    const unsigned count = GatherShape<Data, Index>::count(op.operand_size);
    const Vec index = read_ymm(cpu, index_register);
    Vec value = read_ymm(cpu, destination), mask = read_ymm(cpu, mask_register);
    // The mask elements become all ones (selected) or zero, and the bits above the elements
    // are cleared, before any element is loaded.
    Vec pending;
    for (unsigned i = 0; i < count; ++i)
        if (element(mask, Data, i) >> (8 * Data - 1))
            set_element(pending, Data, i, Data == 4 ? 0xffff'ffff : ~std::uint64_t{0});
    try {
        for (unsigned i = 0; i < count; ++i) {
            if (element(pending, Data, i) == 0) continue;
            const std::uint64_t address = element_address(cpu, op, index, Index, i);
            set_element(value, Data, i, cpu.read_sized(address, Data));
            set_element(pending, Data, i, 0);
        }
    } catch (...) {
        // A fault on an element: the ones below it stay done, their mask elements clear.
        write_ymm(cpu, destination, value, 32);
        write_ymm(cpu, mask_register, pending, 32);
        throw;
    }
    Vec result;
    for (unsigned i = 0; i < count; ++i)
        set_element(result, Data, i, element(value, Data, i));
    write_ymm(cpu, destination, result, 32);
    write_ymm(cpu, mask_register, Vec{}, 32);
}

/// A gather whose ModRM names no SIB byte, so no vector index: #UD (Intel SDM Vol. 2, 2.3.12).
void op_gather_without_index(CpuCore& cpu, const DecodedOp&) {
    check_avx_state(cpu, isa::avx2);
    cpu.raise(x86::vector::invalid_opcode);
}

} // namespace

OpHandler select_avx_gather_handler(const ZydisDecodedInstruction& instruction, DecodedOp& op) {
    if (instruction.meta.isa_ext != ZYDIS_ISA_EXT_AVX2GATHER) return nullptr;
    if (op.memory.vector_index == no_register || op.operands[0].kind != OperandKind::Xmm ||
        op.operands[1].kind != OperandKind::Memory || op.operands[2].kind != OperandKind::Xmm)
        return &op_gather_without_index;
    // The vector length (VEX.L) picks the number of elements.
    op.operand_size = instruction.avx.vector_length == 256 ? 32 : 16;
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_VPGATHERDD:
    case ZYDIS_MNEMONIC_VGATHERDPS:
        return &op_gather<4, 4>;
    case ZYDIS_MNEMONIC_VPGATHERDQ:
    case ZYDIS_MNEMONIC_VGATHERDPD:
        return &op_gather<8, 4>;
    case ZYDIS_MNEMONIC_VPGATHERQD:
    case ZYDIS_MNEMONIC_VGATHERQPS:
        return &op_gather<4, 8>;
    case ZYDIS_MNEMONIC_VPGATHERQQ:
    case ZYDIS_MNEMONIC_VGATHERQPD:
        return &op_gather<8, 8>;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
