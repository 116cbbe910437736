// AccessGroups: which memory accesses of a block share one JIT TLB check (access_groups.hpp).
#include "engine/soft/translator/access_groups.hpp"

#include "engine/soft/translator/instruction_classes.hpp"
#include "engine/soft/translator/jit_runtime.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace vessel::soft {

namespace {

constexpr int stack_register = 4; // rsp

int gpr64_number(ZydisRegister reg) {
    return ZydisRegisterGetClass(reg) == ZYDIS_REGCLASS_GPR64 ? gpr_number(reg) : -1;
}

bool writes_register(const GuestInstruction& guest, int number) {
    for (unsigned i = 0; i < guest.instruction.operand_count; ++i) {
        const ZydisDecodedOperand& operand = guest.operands[i];
        if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER &&
            (operand.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0 &&
            gpr_number(operand.reg.value) == number)
            return true;
    }
    return false;
}

/// Instructions after which no group may go on: they leave the block, change the address space
/// or the rights a group's check relied on (stac/clac open and close SMAP windows), or are
/// privileged (and so interpreted, which may flush the TLB).
bool barrier(const GuestInstruction& guest) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    if (!guest.decoded || instruction.meta.branch_type != ZYDIS_BRANCH_TYPE_NONE ||
        (instruction.attributes & ZYDIS_ATTRIB_IS_PRIVILEGED) != 0)
        return true;
    switch (instruction.meta.category) {
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET:
    case ZYDIS_CATEGORY_SYSTEM:
        return true;
    default:
        break;
    }
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_STAC:
    case ZYDIS_MNEMONIC_CLAC:
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_POPFQ:
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_IRETQ:
    case ZYDIS_MNEMONIC_ENTER:
    case ZYDIS_MNEMONIC_LEAVE:
        return true;
    default:
        return false;
    }
}

/// How instruction `guest` moves GPR `number`: by a known amount (nullopt: unknown). Applies
/// after the instruction's memory access.
std::optional<std::int64_t> register_change(const GuestInstruction& guest, int number) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    const ZydisDecodedOperand* operands = guest.operands;
    if (number == stack_register) {
        switch (instruction.mnemonic) {
        case ZYDIS_MNEMONIC_PUSH:
        case ZYDIS_MNEMONIC_PUSHFQ:
            if (instruction.operand_width == 64) return -8;
            return std::nullopt;
        case ZYDIS_MNEMONIC_POP:
            if (instruction.operand_width == 64 &&
                operands[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                gpr_number(operands[0].reg.value) != stack_register)
                return 8;
            return std::nullopt;
        default:
            break;
        }
    }
    if (!writes_register(guest, number)) return 0;
    if ((instruction.mnemonic == ZYDIS_MNEMONIC_ADD ||
         instruction.mnemonic == ZYDIS_MNEMONIC_SUB) &&
        instruction.operand_count_visible == 2 && operands[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        gpr64_number(operands[0].reg.value) == number &&
        operands[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        const std::int64_t value = operands[1].imm.value.s;
        return instruction.mnemonic == ZYDIS_MNEMONIC_ADD ? value : -value;
    }
    if (instruction.mnemonic == ZYDIS_MNEMONIC_LEA &&
        operands[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        gpr64_number(operands[0].reg.value) == number && instruction.address_width == 64 &&
        gpr64_number(operands[1].mem.base) == number &&
        operands[1].mem.index == ZYDIS_REGISTER_NONE)
        return operands[1].mem.disp.has_displacement ? operands[1].mem.disp.value : 0;
    return std::nullopt;
}

/// The largest value GPR `number` can hold at instruction k, when the last instruction before
/// k that writes it bounds it: movzx from 8 or 16 bits, and with an immediate
/// that is not negative (a 32-bit write clears the upper half).
std::optional<std::uint64_t> index_bound(std::span<const GuestInstruction> instructions,
                                         std::size_t k, int number) {
    for (std::size_t w = k; w-- > 0;) {
        const GuestInstruction& guest = instructions[w];
        if (!guest.decoded) return std::nullopt;
        if (!writes_register(guest, number)) continue;
        const ZydisDecodedInstruction& instruction = guest.instruction;
        const ZydisDecodedOperand* operands = guest.operands;
        if (operands[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
            gpr_number(operands[0].reg.value) != number || operands[0].size < 32)
            return std::nullopt;
        if (instruction.mnemonic == ZYDIS_MNEMONIC_MOVZX) {
            if (operands[1].size == 8) return 0xff;
            if (operands[1].size == 16) return 0xffff;
            return std::nullopt;
        }
        if (instruction.mnemonic == ZYDIS_MNEMONIC_AND &&
            operands[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && operands[1].imm.value.s >= 0)
            return static_cast<std::uint64_t>(operands[1].imm.value.s) &
                   (operands[0].size == 32 ? 0xffffffffu : ~std::uint64_t{0});
        return std::nullopt;
    }
    return std::nullopt; // from the previous pass, or from before the loop
}

struct Candidate {
    bool open{false};
    int index{-1}; ///< a pair's index register (its base: the caller's key)
    unsigned scale{0};
    int base{-1}; ///< a pair's base register
    std::size_t leader{0};
    std::size_t last{0};
    std::int64_t delta{0}; ///< the register's value now minus its value at the leader
    std::int64_t low{0};
    std::int64_t high{0};
    bool write{false};
    std::vector<std::size_t> members;
};

} // namespace

bool member_access(const GuestInstruction& guest, MemberAccess& out) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    if (guest.decoded && instruction.mnemonic == ZYDIS_MNEMONIC_RET &&
        instruction.operand_width == 64) {
        // The return address: the last member of a run of pops (ret is a barrier: it ends it).
        out = {stack_register, 0, 8, false};
        return true;
    }
    if (!guest.decoded || barrier(guest)) return false;
    const ZydisDecodedOperand& first = guest.operands[0];
    switch (instruction.mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
        if (instruction.operand_width != 64) return false;
        if (!(first.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ||
              (first.type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_number(first.reg.value) >= 0)))
            return false;
        out = {stack_register, -8, 8, true};
        return true;
    case ZYDIS_MNEMONIC_PUSHFQ:
        if (instruction.operand_width != 64) return false;
        out = {stack_register, -8, 8, true};
        return true;
    case ZYDIS_MNEMONIC_POP:
        if (instruction.operand_width != 64 || first.type != ZYDIS_OPERAND_TYPE_REGISTER ||
            gpr_number(first.reg.value) < 0 || gpr_number(first.reg.value) == stack_register)
            return false;
        out = {stack_register, 0, 8, false};
        return true;
    default:
        break;
    }
    const ZydisDecodedOperand* memory = nullptr;
    for (unsigned i = 0; i < instruction.operand_count; ++i) {
        const ZydisDecodedOperand& operand = guest.operands[i];
        if (operand.type != ZYDIS_OPERAND_TYPE_MEMORY || operand.mem.type == ZYDIS_MEMOP_TYPE_AGEN)
            continue;
        if (memory != nullptr) return false; // two memory operands (or a hidden stack access)
        memory = &operand;
    }
    if (memory == nullptr || memory->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT ||
        memory->mem.type != ZYDIS_MEMOP_TYPE_MEM || instruction.address_width != 64 ||
        memory->mem.segment == ZYDIS_REGISTER_FS || memory->mem.segment == ZYDIS_REGISTER_GS)
        return false;
    const int base = gpr64_number(memory->mem.base);
    const unsigned size = memory->size / 8;
    if (base < 0 || size == 0 || size > 32) return false;
    out.index = -1;
    out.scale = 0;
    if (memory->mem.index != ZYDIS_REGISTER_NONE) {
        const int index = gpr64_number(memory->mem.index);
        if (index < 0 || index == base || !guest_in_host_register(static_cast<unsigned>(base)) ||
            !guest_in_host_register(static_cast<unsigned>(index)))
            return false;
        out.index = index;
        out.scale = memory->mem.scale == 0 ? 1 : memory->mem.scale;
    }
    out.base = base;
    out.displacement = memory->mem.disp.has_displacement ? memory->mem.disp.value : 0;
    out.size = size;
    out.write = (memory->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
    return true;
}

void plan_access_groups(std::span<const GuestInstruction> instructions, AccessGroupPlan& plan,
                        std::span<const RegionLink> links) {
    plan.groups.clear();
    plan.roles.assign(instructions.size(), AccessRole{});
    std::array<Candidate, 16> open;
    std::array<Candidate, 4> pairs; // base and index register pairs
    std::vector<AccessGroup> found;
    std::vector<AccessRole> candidate_roles(instructions.size());
    const auto is_link = [&](std::size_t k) {
        return std::any_of(links.begin(), links.end(),
                           [k](const RegionLink& link) { return link.index == k; });
    };
    // A loop's invariant base registers: no instruction moves them, and nothing in the loop
    // (no barrier but its own branches) may change what a check before the loop relied on.
    std::array<bool, 16> invariant{};
    if (!links.empty()) {
        invariant.fill(true);
        for (std::size_t k = 0; k < instructions.size(); ++k) {
            if (!is_link(k) && barrier(instructions[k])) {
                invariant.fill(false);
                break;
            }
            for (int base = 0; base < 16; ++base) {
                const std::optional<std::int64_t> change = register_change(instructions[k], base);
                if (!change || *change != 0) invariant[static_cast<std::size_t>(base)] = false;
            }
        }
    }

    // A check clobbers the host flags: where the guest's are live it saves and restores them.
    // The nearest instruction before `leader` where none are live, reached over instructions
    // that leave `base` alone and stay in the block, can take the check instead (the members'
    // offsets from the base are the same there); `leader` itself when none is.
    const auto unchanged = [&](const GuestInstruction& guest, int number) {
        const std::optional<std::int64_t> change = register_change(guest, number);
        return change && *change == 0;
    };
    const auto check_point = [&](std::size_t leader, int base, int index) {
        if (instructions[leader].flags_live_in == 0) return leader;
        for (std::size_t k = leader; k-- > 0;) {
            const GuestInstruction& guest = instructions[k];
            if (barrier(guest) || is_link(k) || !unchanged(guest, base) ||
                (index >= 0 && !unchanged(guest, index)))
                break;
            if (guest.flags_live_in == 0) return k;
        }
        return leader;
    };

    const auto close = [&](Candidate& c, int base) {
        if (!c.open) return;
        // (one member is enough before a loop: its check then runs once instead of each pass;
        // and one whose check moves to where the flags are dead: it saves their save)
        const bool hoist = invariant[static_cast<std::size_t>(base)] &&
                           (c.index < 0 || invariant[static_cast<std::size_t>(c.index)]);
        const std::size_t needed = hoist ? 1 : 2;
        const std::size_t leader = check_point(c.leader, base, c.index);
        if (c.members.size() >= needed || leader != c.leader) {
            AccessGroup group;
            group.base = base;
            group.index = c.index;
            group.scale = c.scale;
            group.leader = leader;
            group.last = c.last;
            group.low = static_cast<std::int32_t>(c.low);
            group.span = static_cast<std::uint32_t>(c.high - c.low);
            group.write = c.write;
            if (hoist) {
                group.hoisted = true;
                group.leader = 0;
                group.last = instructions.size() - 1;
            }
            const int index = static_cast<int>(found.size());
            found.push_back(group);
            for (std::size_t k : c.members)
                candidate_roles[k].group = index;
        }
        c.open = false;
        c.members.clear();
    };

    // Table lookups of a loop (AccessGroup::indexed), first: checked once before the loop,
    // they are worth more than a check each pass in a pair's group.
    for (std::size_t k = 0; k < instructions.size() && !links.empty(); ++k) {
        const GuestInstruction& guest = instructions[k];
        MemberAccess access; // (a read through a base and an index, both in host registers)
        if (candidate_roles[k].group >= 0 || !member_access(guest, access) || access.index < 0 ||
            access.write || access.size > 8 || !invariant[static_cast<std::size_t>(access.base)])
            continue;
        const int base = access.base;
        const int index = access.index;
        const unsigned size = access.size;
        const std::optional<std::uint64_t> bound = index_bound(instructions, k, index);
        const unsigned scale = access.scale;
        if (!bound || *bound * scale + size > 4096) continue;
        const std::int64_t displacement = access.displacement;
        AccessGroup group;
        group.base = base;
        group.leader = 0;
        group.last = instructions.size() - 1;
        group.low = static_cast<std::int32_t>(displacement);
        group.span = static_cast<std::uint32_t>(*bound * scale + size);
        group.hoisted = true;
        group.indexed = true;
        candidate_roles[k] = {static_cast<int>(found.size()),
                              base,
                              displacement,
                              static_cast<std::int32_t>(displacement),
                              size,
                              false,
                              index,
                              scale};
        found.push_back(group);
    }

    for (std::size_t k = 0; k < instructions.size(); ++k) {
        const GuestInstruction& guest = instructions[k];
        MemberAccess access;
        if (candidate_roles[k].group < 0 && member_access(guest, access)) {
            Candidate* pick = &open[static_cast<std::size_t>(access.base)];
            if (access.index >= 0) { // a pair: its own candidate, or a free one (else the oldest)
                pick = nullptr;
                for (Candidate& c : pairs)
                    if (c.open && c.base == access.base && c.index == access.index &&
                        c.scale == access.scale)
                        pick = &c;
                for (Candidate& c : pairs)
                    if (pick == nullptr && !c.open) pick = &c;
                if (pick == nullptr) {
                    pick = &*std::min_element(
                        pairs.begin(), pairs.end(),
                        [](const Candidate& a, const Candidate& b) { return a.leader < b.leader; });
                    close(*pick, pick->base);
                }
                pick->base = access.base;
                pick->index = access.index;
                pick->scale = access.scale;
            }
            Candidate& c = *pick;
            const std::int64_t offset = (c.open ? c.delta : 0) + access.displacement;
            const std::int64_t end = offset + access.size;
            if (c.open && (std::max(c.high, end) - std::min(c.low, offset) > AccessGroup::max_span))
                close(c, access.base);
            std::int64_t start = offset;
            if (!c.open) {
                c.open = true;
                c.leader = k;
                c.delta = 0;
                start = access.displacement;
                c.low = start;
                c.high = start + access.size;
                c.write = false;
            }
            c.low = std::min(c.low, start);
            c.high = std::max(c.high, start + static_cast<std::int64_t>(access.size));
            c.write = c.write || access.write;
            c.last = k;
            c.members.push_back(k);
            candidate_roles[k] = {
                -1,          access.base,  access.displacement, static_cast<std::int32_t>(start),
                access.size, access.write, access.index,        access.scale};
        }
        const bool stop = barrier(guest) && !is_link(k);
        for (int base = 0; base < 16; ++base) {
            Candidate& c = open[static_cast<std::size_t>(base)];
            if (!c.open) continue;
            const std::optional<std::int64_t> change =
                stop ? std::nullopt : register_change(guest, base);
            if (!change || *change > 4096 || *change < -4096)
                close(c, base);
            else
                c.delta += *change;
        }
        for (Candidate& c : pairs) // (a pair's registers must not move at all)
            if (c.open && (stop || !unchanged(guest, c.base) || !unchanged(guest, c.index)))
                close(c, c.base);
    }
    for (int base = 0; base < 16; ++base)
        close(open[static_cast<std::size_t>(base)], base);
    for (Candidate& c : pairs)
        close(c, c.base);

    // Keep groups while a slot is free: groups whose ranges overlap are checked one after the
    // other and live at once, each in its own slot (at most `slots` at a time).
    std::vector<std::size_t> order(found.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        // (the longer first at one leader: the shorter then nests in it)
        return found[a].leader < found[b].leader ||
               (found[a].leader == found[b].leader && found[a].last > found[b].last);
    });
    std::vector<int> kept_index(found.size(), -1);
    for (std::size_t i : order) {
        AccessGroup group = found[i];
        unsigned busy = 0; // slots of kept groups still live at this one's leader
        for (const AccessGroup& kept : plan.groups)
            if (group.leader <= kept.last) // (kept ones start earlier)
                busy |= 1u << kept.slot | (kept.indexed ? 1u << kept.second_slot : 0u);
        unsigned slot = 0;
        while (slot < AccessGroup::slots && (busy & (1u << slot)) != 0)
            ++slot;
        if (slot == AccessGroup::slots) continue;
        group.slot = slot;
        if (group.indexed) { // a second pin, for the page of its last byte
            unsigned second = slot + 1;
            while (second < AccessGroup::slots && (busy & (1u << second)) != 0)
                ++second;
            if (second == AccessGroup::slots) continue;
            group.second_slot = second;
        }
        kept_index[i] = static_cast<int>(plan.groups.size());
        plan.groups.push_back(group);
    }
    // A group's fallback runs its instructions again without groups, so it must go on to the
    // end of every group whose check it passes over (one that begins inside it and ends after
    // it, and so on): only there do the main path's checked groups all end.
    for (AccessGroup& group : plan.groups)
        group.fallback_last = group.last;
    for (bool grown = true; grown;) {
        grown = false;
        for (AccessGroup& group : plan.groups)
            for (const AccessGroup& other : plan.groups)
                if (!other.hoisted &&
                    (other.leader > group.leader || // (at one point, checks go in plan order)
                     (other.leader == group.leader && &other > &group)) &&
                    other.leader <= group.fallback_last &&
                    other.fallback_last > group.fallback_last) {
                    group.fallback_last = other.fallback_last;
                    grown = true;
                }
    }
    for (std::size_t k = 0; k < instructions.size(); ++k) {
        const AccessRole& role = candidate_roles[k];
        if (role.group < 0 || kept_index[static_cast<std::size_t>(role.group)] < 0) continue;
        plan.roles[k] = role;
        plan.roles[k].group = kept_index[static_cast<std::size_t>(role.group)];
    }
}

} // namespace vessel::soft
