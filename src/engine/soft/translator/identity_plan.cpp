// Identity translation's plan for one instruction (see identity_plan.hpp).
#include "engine/soft/translator/identity_plan.hpp"

#include <algorithm>
#include <cstring>

#include "engine/soft/cpu_model.hpp"
#include "engine/soft/translator/host_extensions.hpp"
#include "engine/soft/translator/instruction_classes.hpp"
#include "engine/soft/translator/jit_runtime.hpp"

namespace vessel::soft {

/// Fills `plan`; false when an operand cannot be run as is (implicit rsp, r12-r15, a second
/// memory operand, a register class other than GPR, flags or XMM).
bool plan_identity(const GuestInstruction& guest, IdentityPlan& plan) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    for (unsigned i = 0; i < instruction.operand_count; ++i) {
        const ZydisDecodedOperand& operand = guest.operands[i];
        const bool explicit_operand = operand.visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT;
        const bool written = (operand.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
        switch (operand.type) {
        case ZYDIS_OPERAND_TYPE_REGISTER: {
            const ZydisRegisterClass register_class = ZydisRegisterGetClass(operand.reg.value);
            if (register_class == ZYDIS_REGCLASS_FLAGS) break;
            if (operand.reg.value == ZYDIS_REGISTER_MXCSR) break; // see floating_point_mnemonic
            if (register_class == ZYDIS_REGCLASS_XMM || register_class == ZYDIS_REGCLASS_YMM) {
                const int number = operand.reg.value - (register_class == ZYDIS_REGCLASS_YMM
                                                            ? ZYDIS_REGISTER_YMM0
                                                            : ZYDIS_REGISTER_XMM0);
                if (!explicit_operand || number > 15) return false;
                if (instruction.attributes & ZYDIS_ATTRIB_HAS_VEX)
                    plan.vector_bytes = std::max(plan.vector_bytes,
                                                 register_class == ZYDIS_REGCLASS_YMM ? 32u : 16u);
                unsigned x = 0;
                while (x < plan.xmm_renamed && plan.xmm_guest[x] != number)
                    ++x;
                if (x == plan.xmm_renamed) {
                    if (plan.xmm_renamed == 3) return false;
                    plan.xmm_guest[plan.xmm_renamed++] = number;
                }
                plan.xmm_written[x] |= written;
                plan.xmm_read[x] |= (operand.actions & ZYDIS_OPERAND_ACTION_MASK_READ) != 0;
                break;
            }
            const int number = gpr_number(operand.reg.value);
            if (number < 0) return false;
            if (guest_in_same_register(static_cast<unsigned>(number))) break;
            if (guest_in_host_register(static_cast<unsigned>(number))) {
                // Guest rsp in another host register: only as an explicit operand (an
                // implicit one, as push's, would be the host's own rsp).
                if (!explicit_operand) return false;
                plan.remapped = true;
                break;
            }
            if (!explicit_operand) return false;
            unsigned r = 0;
            while (r < plan.renamed && plan.renamed_guest[r] != number)
                ++r;
            if (r == plan.renamed) {
                if (plan.renamed == 2) return false;
                plan.renamed_guest[plan.renamed++] = number;
            }
            plan.renamed_written[r] |= written;
            // Only moves are sure to replace the whole operand (cmov may not write, bsf keeps
            // it for a zero source): anything else loads the register first. A move into its
            // low 8 or 16 bits needs no load either: only those bytes are stored back.
            plan.renamed_read[r] |= (operand.actions & ZYDIS_OPERAND_ACTION_MASK_READ) != 0 ||
                                    !replaces_destination(instruction.mnemonic);
            plan.renamed_size[r] = std::max<unsigned>(plan.renamed_size[r], operand.size);
            break;
        }
        case ZYDIS_OPERAND_TYPE_MEMORY:
            if (operand.mem.type != ZYDIS_MEMOP_TYPE_MEM || !explicit_operand ||
                plan.memory_operand >= 0)
                return false;
            plan.memory_operand = static_cast<int>(i);
            break;
        case ZYDIS_OPERAND_TYPE_IMMEDIATE:
            break;
        default:
            return false;
        }
    }
    plan.mxcsr = floating_point_mnemonic(instruction.mnemonic);
    if (plan.memory_operand >= 0) {
        if (instruction.address_width == 16) return false;
        // A register bit offset reaches beyond the addressed operand (Intel SDM Vol. 2, BT).
        const ZydisMnemonic m = instruction.mnemonic;
        if ((m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR ||
             m == ZYDIS_MNEMONIC_BTC) &&
            guest.operands[1].type == ZYDIS_OPERAND_TYPE_REGISTER)
            return false;
    }
    if (plan.renamed == 2 && plan.memory_operand >= 0) return false; // r14 holds the address
    // div: the guard below needs the high half of the dividend outside ah.
    if (instruction.mnemonic == ZYDIS_MNEMONIC_DIV && instruction.operand_width == 8) return false;
    return true;
}

bool encode_identity(const GuestInstruction& guest, const IdentityPlan& plan,
                     std::uint32_t isa_features, std::uint8_t* bytes, ZyanUSize& length,
                     bool aliased, std::int32_t displacement, unsigned base, int index,
                     unsigned scale) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    // Without BMI1/LZCNT in the guest's CPU model, f3 0f bc/bd are bsf/bsr (as the
    // interpreter runs them): never hand them to a host that has tzcnt/lzcnt. With them,
    // they run as themselves where the host has them too.
    const bool counts = instruction.mnemonic == ZYDIS_MNEMONIC_TZCNT ||
                        instruction.mnemonic == ZYDIS_MNEMONIC_LZCNT;
    const std::uint32_t feature =
        instruction.mnemonic == ZYDIS_MNEMONIC_TZCNT ? isa::bmi1 : isa::lzcnt;
    if (counts && (isa_features & feature) != 0 && !host_counts(instruction.mnemonic))
        return false; // the interpreter counts
    const bool scan = counts && (isa_features & feature) == 0;
    if (plan.memory_operand < 0 && plan.renamed == 0 && plan.xmm_renamed == 0 && !plan.remapped &&
        !scan && !guest.renamed) {
        length = instruction.length;
        std::memcpy(bytes, guest.bytes, length);
        return true;
    }
    ZydisEncoderRequest request;
    if (ZYAN_FAILED(ZydisEncoderDecodedInstructionToEncoderRequest(
            &instruction, guest.operands, instruction.operand_count_visible, &request)))
        return false;
    for (unsigned i = 0; i < request.operand_count; ++i) {
        ZydisEncoderOperand& operand = request.operands[i];
        if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER) {
            const ZydisRegisterClass register_class = ZydisRegisterGetClass(operand.reg.value);
            if (register_class == ZYDIS_REGCLASS_XMM || register_class == ZYDIS_REGCLASS_YMM) {
                const ZydisRegister first = register_class == ZYDIS_REGCLASS_YMM
                                                ? ZYDIS_REGISTER_YMM0
                                                : ZYDIS_REGISTER_XMM0;
                const int number = operand.reg.value - first;
                for (unsigned x = 0; x < plan.xmm_renamed; ++x)
                    if (plan.xmm_guest[x] == number)
                        operand.reg.value = static_cast<ZydisRegister>(first + x);
                continue;
            }
            const int number = gpr_number(operand.reg.value);
            for (unsigned r = 0; r < plan.renamed; ++r)
                if (number >= 0 && number == plan.renamed_guest[r])
                    operand.reg.value = with_number(operand.reg.value, rename_host[r]);
            if (number >= 0 && guest_in_host_register(static_cast<unsigned>(number)) &&
                !guest_in_same_register(static_cast<unsigned>(number)))
                operand.reg.value = with_number(
                    operand.reg.value,
                    static_cast<unsigned>(host_register_of(static_cast<unsigned>(number))));
        } else if (operand.type == ZYDIS_OPERAND_TYPE_MEMORY) {
            operand.mem.base = aliased ? with_number(ZYDIS_REGISTER_EAX, base)
                                       : with_number(ZYDIS_REGISTER_RAX, base);
            operand.mem.index = index < 0
                                    ? ZYDIS_REGISTER_NONE
                                    : with_number(aliased ? ZYDIS_REGISTER_EAX : ZYDIS_REGISTER_RAX,
                                                  static_cast<unsigned>(index));
            operand.mem.scale = index < 0 ? 0 : static_cast<std::uint8_t>(scale);
            operand.mem.displacement = displacement;
        }
    }
    request.prefixes &= ~static_cast<ZydisInstructionAttributes>(ZYDIS_ATTRIB_HAS_SEGMENT);
    if (aliased && plan.memory_operand >= 0) request.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;
    if (scan) {
        request.mnemonic =
            instruction.mnemonic == ZYDIS_MNEMONIC_TZCNT ? ZYDIS_MNEMONIC_BSF : ZYDIS_MNEMONIC_BSR;
        request.prefixes &= ~static_cast<ZydisInstructionAttributes>(ZYDIS_ATTRIB_HAS_REP);
    }
    request.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
    return ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&request, bytes, &length));
}

} // namespace vessel::soft
