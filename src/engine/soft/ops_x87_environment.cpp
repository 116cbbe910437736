// x87 environment and state images: fnstenv/fldenv and fnsave/frstor (Intel SDM Vol. 1, 8.1.10
// and 8.1.11, figures 8-9 to 8-12).
#include <cmath>
#include <cstring>

#include "engine/soft/handlers.hpp"
#include "engine/soft/operand_access.hpp"
#include "engine/soft/x87_stack.hpp"

namespace vessel::soft {

namespace {

using namespace x87;

/// Tag word values per register (Intel SDM Vol. 1, figure 8-7).
constexpr unsigned tag_valid_value = 0;
constexpr unsigned tag_zero = 1;
constexpr unsigned tag_special = 2;
constexpr unsigned tag_empty = 3;
constexpr unsigned register_image_bytes = 10;

/// The environment image is 14 bytes with a 16-bit operand size and 28 with 32 bits; the
/// fields are the same words, in 2- or 4-byte slots. Vessel does not track the last
/// instruction and data pointers, so those fields read as zero in every mode.
unsigned environment_slot(const DecodedOp& op) {
    return op.operand_size == 2 ? 2 : 4;
}

std::uint16_t full_tag_word(CpuCore& cpu) {
    std::uint16_t tags = 0;
    for (unsigned physical = 0; physical < 8; ++physical) {
        unsigned tag = tag_empty;
        if (cpu.fpu.tag_valid & (1u << physical)) {
            const long double value = cpu.fpu.st[physical];
            if (value == 0)
                tag = tag_zero;
            else if (!std::isnormal(value))
                tag = tag_special;
            else
                tag = tag_valid_value;
        }
        tags |= static_cast<std::uint16_t>(tag << (2 * physical));
    }
    return tags;
}

void store_environment(CpuCore& cpu, const DecodedOp& op, std::uint64_t address) {
    const unsigned slot = environment_slot(op);
    std::uint8_t image[28] = {};
    const std::uint16_t words[3] = {cpu.fpu.control, status_word(cpu), full_tag_word(cpu)};
    for (unsigned i = 0; i < 3; ++i)
        std::memcpy(image + i * slot, &words[i], 2);
    cpu.write_block(address, image, 7 * slot);
}

void load_environment(CpuCore& cpu, const DecodedOp& op, std::uint64_t address) {
    const unsigned slot = environment_slot(op);
    std::uint8_t image[28];
    cpu.read_block(address, image, 7 * slot);
    std::uint16_t control, status, tags;
    std::memcpy(&control, image, 2);
    std::memcpy(&status, image + slot, 2);
    std::memcpy(&tags, image + 2 * slot, 2);
    cpu.fpu.control = control;
    cpu.fpu.top = (status >> status_top_shift) & 7;
    cpu.fpu.status = status & ~(7u << status_top_shift);
    cpu.fpu.tag_valid = 0;
    for (unsigned physical = 0; physical < 8; ++physical)
        if (((tags >> (2 * physical)) & 3) != tag_empty) cpu.fpu.tag_valid |= 1u << physical;
}

/// fnstenv also masks every x87 exception after storing (Intel SDM Vol. 2, FSTENV).
void op_fnstenv(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    store_environment(cpu, op, cpu.linear_address(op));
    cpu.fpu.control |= control_exception_masks;
}

void op_fldenv(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    load_environment(cpu, op, cpu.linear_address(op));
}

/// fnsave: environment, then ST(0)..ST(7) as 80-bit values, then the FPU is reinitialized.
void op_fnsave(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    const std::uint64_t address = cpu.linear_address(op);
    const unsigned environment_bytes = 7 * environment_slot(op);
    store_environment(cpu, op, address);
    for (unsigned i = 0; i < 8; ++i)
        cpu.write_block(address + environment_bytes + i * register_image_bytes, &st(cpu, i),
                        register_image_bytes);
    cpu.fpu.control = 0x37f; // the fninit state (Intel SDM Vol. 1, table 8-1)
    cpu.fpu.status = 0;
    cpu.fpu.top = 0;
    cpu.fpu.tag_valid = 0;
}

void op_frstor(CpuCore& cpu, const DecodedOp& op) {
    check_fpu(cpu);
    const std::uint64_t address = cpu.linear_address(op);
    const unsigned environment_bytes = 7 * environment_slot(op);
    long double registers[8];
    for (unsigned i = 0; i < 8; ++i) {
        registers[i] = 0;
        // The host long double is the x87 80-bit format in its low 10 bytes.
        cpu.read_block(address + environment_bytes + i * register_image_bytes, &registers[i],
                       register_image_bytes);
    }
    load_environment(cpu, op, address);
    for (unsigned i = 0; i < 8; ++i)
        st(cpu, i) = registers[i];
}

} // namespace

OpHandler select_x87_environment_handler(const ZydisDecodedInstruction& instruction, DecodedOp&) {
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_FNSTENV:
        return &op_fnstenv;
    case ZYDIS_MNEMONIC_FLDENV:
        return &op_fldenv;
    case ZYDIS_MNEMONIC_FNSAVE:
        return &op_fnsave;
    case ZYDIS_MNEMONIC_FRSTOR:
        return &op_frstor;
    default:
        return nullptr;
    }
}

} // namespace vessel::soft
