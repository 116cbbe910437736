// BlockTranslator: emission of one analysed guest block (block_analysis.hpp) as host code; the
// Emitter's per-instruction dispatch, identity-translated and SIMD instructions (emitter.hpp
// lists the files holding the rest).
#include "engine/soft/translator/block_translator.hpp"

#include "engine/soft/translator/emitter.hpp"
#include "engine/soft/translator/host_extensions.hpp"
#include "engine/soft/translator/smap_instructions.hpp"
#include "engine/soft/translator/vex_instructions.hpp"
#include "engine/soft/xsave_state.hpp"

#include <algorithm>
#include <cstring>

namespace vessel::soft {

namespace emit {

void Emitter::block(std::span<GuestInstruction> instructions) {
    m_instructions = instructions;
    body_and_cold_paths();
}

void Emitter::body_and_cold_paths() {
    bool ended = false;
    for (std::size_t k = 0; k < m_instructions.size() && !ended; ++k) {
        m_live = m_instructions[k].flags_live_in;
        m_linear = m_instructions[k].linear;
        if (checks_at(k)) flush_stack(); // (a check reads rsp, and its fallback wants it exact)
        begin_groups(k);
        m_defer_stack = defers_stack(k);
        if (!m_defer_stack) flush_stack();
        ended = instruction(k, m_instructions[k]);
        m_defer_stack = false;
        end_groups(k, ended);
    }
    flush_stack();
    m_live = arithmetic_mask;
    if (!ended) exit_to(m_instructions.back().next); // (never in a region: it loops back)
    for (std::size_t i = 0; i < m_cold.size(); ++i)  // a group's fallback queues more
        m_cold[i]();
}

bool Emitter::instruction(std::size_t k, GuestInstruction& guest) {
    if (const RegionLink* link = region_link(k); link != nullptr) {
        region_branch(guest, *link);
        ++m_out.native_ops;
        return link == &m_links.back();
    }
    if (const auto op = static_cast<ZydisMnemonic>(m_ops[k].mnemonic);
        translates_alignment_check_flag(op, m_out.context, m_isa_features)) {
        save_flags(m_live); // stac/clac (smap_instructions.hpp) clobber the host flags
        m_host_flags_valid = false;
        Xbyak::Label& windows_open = new_label();
        emit_alignment_check_flag(*this, m_layout, op == ZYDIS_MNEMONIC_STAC, windows_open);
        const std::uint8_t* after = getCurr();
        if (op == ZYDIS_MNEMONIC_CLAC) fallback_path(k, guest, windows_open, after);
        ++m_out.native_ops;
        return false;
    }
    if (guest.decoded) {
        const ZydisMnemonic mnemonic = guest.instruction.mnemonic;
        if (mnemonic == ZYDIS_MNEMONIC_NOP || mnemonic == ZYDIS_MNEMONIC_PREFETCHT0 ||
            mnemonic == ZYDIS_MNEMONIC_PREFETCHT1 || mnemonic == ZYDIS_MNEMONIC_PREFETCHT2 ||
            mnemonic == ZYDIS_MNEMONIC_PREFETCHNTA || mnemonic == ZYDIS_MNEMONIC_PREFETCHW) {
            // Including the padding forms with a memory operand; a prefetch is a hint that
            // never faults (Intel SDM Vol. 2, PREFETCHh), and the guest has no cache to fill.
            ++m_out.native_ops;
            return false;
        }
        if (mnemonic == ZYDIS_MNEMONIC_PAUSE) {
            pause(); // a spin-wait hint: the host's own
            ++m_out.native_ops;
            return false;
        }
        // An extension's instruction runs as is only where the guest's CPU model has it
        // (else the interpreter raises #UD) and the host does.
        if (const std::uint32_t vex = vex_extension(guest.instruction); vex != 0) {
            if ((m_isa_features & vex) == vex && host_has_extension(vex) && identity(k, guest)) {
                ++m_out.native_ops;
                return false;
            }
        } else if (mnemonic == ZYDIS_MNEMONIC_VZEROUPPER && (m_isa_features & isa::avx) != 0 &&
                   host_has_extension(isa::avx)) {
            zero_upper_halves(k, guest);
            ++m_out.native_ops;
            return false;
        }
        if (mnemonic == ZYDIS_MNEMONIC_FNSTCW && store_control_word(k, guest)) {
            ++m_out.native_ops;
            return false;
        }
        const std::uint32_t extension = extension_of(mnemonic);
        const bool runnable = extension == 0 || ((m_isa_features & extension) == extension &&
                                                 host_has_extension(extension));
        if (runnable && (identity_mnemonic(mnemonic) || floating_point_mnemonic(mnemonic)) &&
            identity(k, guest)) {
            ++m_out.native_ops;
            return false;
        }
        if (mnemonic == ZYDIS_MNEMONIC_LEA && load_effective_address(guest)) {
            ++m_out.native_ops;
            return false;
        }
        if (string_instruction(k, guest)) {
            ++m_out.native_ops;
            return false;
        }
        if (mnemonic == ZYDIS_MNEMONIC_CLI && !m_user) {
            // At CPL 0 (64-bit mode: protected, CPL <= IOPL) cli only clears IF; sti stays
            // with the interpreter, which ends the block to let a pending interrupt in.
            save_flags(m_live);
            and_(dword[r15 + m_layout.rflags], static_cast<std::uint32_t>(~x86::rflags::if_));
            m_host_flags_valid = false;
            ++m_out.native_ops;
            return false;
        }
        if (mnemonic == ZYDIS_MNEMONIC_MOV && read_segment_selector(guest)) {
            ++m_out.native_ops;
            return false;
        }
        if (mnemonic == ZYDIS_MNEMONIC_PUSHFQ && push_flags(k, guest)) {
            ++m_out.native_ops;
            return false;
        }
        if (mnemonic == ZYDIS_MNEMONIC_LEAVE && leave_instruction(k, guest)) {
            ++m_out.native_ops;
            return false;
        }
        if ((mnemonic == ZYDIS_MNEMONIC_PUSH && push_instruction(k, guest)) ||
            (mnemonic == ZYDIS_MNEMONIC_POP && pop_instruction(k, guest))) {
            ++m_out.native_ops;
            return false;
        }
        if (bit_string(k, guest)) return false;
        if (control_flow(k, guest)) {
            ++m_out.native_ops;
            return true;
        }
    }
    ++m_out.fallback_ops;
    restore_host_flags();
    interpret(k, guest);
    flags_written();
    drop_groups(); // the interpreter may have changed anything a group's check relied on
    return false;
}

void Emitter::interpret(std::size_t k, const GuestInstruction& guest) {
    swap_loans(); // the interpreter runs the instruction's own bytes on the usual convention
    pushfq();
    pop(qword[r15 + m_layout.flags]);
    store_rip(guest.linear);
    mov(r13, reinterpret_cast<std::uintptr_t>(&m_ops[k]));
    call(m_runtime.interpret_stub());
    swap_loans();
}

void Emitter::swap_loans() {
    for (const RegisterLoan& loan : m_loans) {
        const Xbyak::Reg64 lender(static_cast<int>(loan.lender));
        mov(r13, home(loan.borrower));
        mov(home(loan.borrower), lender);
        mov(lender, r13);
    }
}

void Emitter::vex_guard(Xbyak::Label& fallback) {
    save_flags(m_live); // the tests below clobber the flags
    m_host_flags_valid = false;
    test(byte[r15 + m_layout.cr0], static_cast<std::uint8_t>(x86::cr0::ts));
    jnz(fallback);
    test(dword[r15 + m_layout.cr4], static_cast<std::uint32_t>(xsave::cr4_osxsave));
    jz(fallback);
    mov(r13d, dword[r15 + m_layout.xcr0]);
    not_(r13d);
    test(r13d, static_cast<std::uint32_t>(xsave::sse | xsave::ymm));
    jnz(fallback);
    m_vex_checked = true;
}

bool Emitter::store_control_word(std::size_t k, const GuestInstruction& guest) {
    const ZydisDecodedOperand& operand = guest.operands[0];
    if (operand.type != ZYDIS_OPERAND_TYPE_MEMORY || guest.instruction.address_width == 16)
        return false;
    Xbyak::Label& fallback = new_label();
    save_flags(m_live); // the test clobbers the flags
    m_host_flags_valid = false;
    test(byte[r15 + m_layout.cr0], static_cast<std::uint8_t>(x86::cr0::em | x86::cr0::ts));
    jnz(fallback);
    address(guest, operand, true);
    lookup(2, true, fallback);
    mov(r13w, word[r15 + m_layout.fpu_control]);
    mov(word[looked_up()], r13w);
    const std::uint8_t* after = getCurr();
    fallback_path(k, guest, fallback, after);
    return true;
}

void Emitter::zero_upper_halves(std::size_t k, const GuestInstruction& guest) {
    Xbyak::Label& fallback = new_label();
    const bool guarded = !m_vex_checked;
    if (guarded) vex_guard(fallback);
    vpxor(xmm3, xmm3, xmm3); // all of ymm3, whose upper half stays clean
    for (int i = 0; i < 16; i += 2)
        vmovdqu(yword[r15 + m_layout.ymm_upper + 16 * i], ymm3);
    const std::uint8_t* after = getCurr();
    if (guarded) fallback_path(k, guest, fallback, after);
}

void Emitter::division_guard(const GuestInstruction& guest, const IdentityPlan& plan,
                             Xbyak::Label& fallback) {
    save_flags(m_live); // before r13 is used: it is save_flags' scratch
    const unsigned size = guest.instruction.operand_width;
    if (size == 64) mov(r13, rdx);
    if (size == 32) mov(r13d, edx);
    if (size == 16) movzx(r13d, dx);
    const ZydisDecodedOperand& divisor = guest.operands[0];
    const auto high = size == 64   ? Xbyak::Operand(r13)
                      : size == 32 ? Xbyak::Operand(r13d)
                                   : Xbyak::Operand(r13w);
    if (plan.memory_operand >= 0) {
        const Xbyak::RegExp divisor_address = looked_up();
        cmp(high, size == 64   ? qword[divisor_address]
                  : size == 32 ? dword[divisor_address]
                               : word[divisor_address]);
    } else {
        const int number = gpr_number(divisor.reg.value);
        if (guest_in_host_register(static_cast<unsigned>(number))) {
            const int host = host_register_of(static_cast<unsigned>(number));
            if (size == 64) cmp(r13, Xbyak::Reg64(host));
            if (size == 32) cmp(r13d, Xbyak::Reg32(host));
            if (size == 16) cmp(r13w, Xbyak::Reg16(host));
        } else {
            const auto slot = r15 + m_layout.gpr + 8 * number; // low bytes first
            cmp(high, size == 64 ? qword[slot] : size == 32 ? dword[slot] : word[slot]);
        }
    }
    // The compare clobbered the flags; the interpreter path gets the saved ones.
    m_slot_current = true;
    m_host_flags_valid = false;
    jae(fallback);
}

void Emitter::mxcsr_enter(Xbyak::Label& fallback) {
    save_flags(m_live); // the checks below clobber the flags
    mov(r13d, dword[r15 + m_layout.mxcsr]);
    and_(r13d, mxcsr_masks);
    cmp(r13d, mxcsr_masks);
    m_host_flags_valid = false;
    jne(fallback);
    mov(r13d, dword[r15 + m_layout.mxcsr]);
    and_(r13d, ~mxcsr_flags);
    mov(dword[r15 + m_layout.mxcsr_scratch], r13d);
    ldmxcsr(dword[r15 + m_layout.mxcsr_scratch]);
}

void Emitter::mxcsr_leave() {
    stmxcsr(dword[r15 + m_layout.mxcsr_scratch]);
    ldmxcsr(dword[r15 + m_layout.host_mxcsr]);
    mov(r13d, dword[r15 + m_layout.mxcsr_scratch]);
    and_(r13d, mxcsr_flags);
    or_(dword[r15 + m_layout.mxcsr], r13d);
    m_host_flags_valid = false; // the slot holds the guest's flags
}

bool Emitter::identity(std::size_t k, GuestInstruction& guest) {
    IdentityPlan plan;
    if (!plan_identity(guest, plan)) return false;
    std::uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZyanUSize length = sizeof bytes;
    if (!encode_identity(guest, plan, m_isa_features, bytes, length)) return false;
    // The form for an aliased access, gs:[r14d] (used when the operand is not grouped).
    std::uint8_t aliased_bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZyanUSize aliased_length = sizeof aliased_bytes;
    if (m_page_aliases && plan.memory_operand >= 0 &&
        !encode_identity(guest, plan, m_isa_features, aliased_bytes, aliased_length, true))
        return false;

    const bool division = guest.instruction.mnemonic == ZYDIS_MNEMONIC_DIV;
    const bool vex = plan.vector_bytes != 0;
    // r14 holds a group slot's host address after this instruction when it did before (or the
    // instruction is a member of that group) and nothing here writes r14 or can leave through
    // a fallback path (whose join gives back r14 clobbered): see grouped_access.
    bool r14_group_kept = getCurr() == m_r14_group_end;
    Xbyak::Label& fallback = new_label();
    const bool guarded = vex && !m_vex_checked;
    if (guarded) vex_guard(fallback);
    bool aligned = false;
    if (plan.memory_operand >= 0) {
        const ZydisDecodedOperand& operand = guest.operands[plan.memory_operand];
        const bool write = (operand.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
        const ZydisMnemonic m = guest.instruction.mnemonic;
        aligned = vex ? vex_needs_alignment(m) : operand.size == 128 && needs_alignment(m);
        // (the guards below address the operand through r14)
        const bool register_base = !aligned && !division && !plan.mxcsr && !vex;
        const bool r14_was_kept = r14_group_kept;
        const bool grouped = grouped_operand(k, guest, operand, write, register_base);
        r14_group_kept = grouped && m_member_from_slot;
        if (!grouped) {
            address(guest, operand, true);
            lookup(operand.size / 8, write, fallback);
            if (m_aliased_access) {
                std::memcpy(bytes, aliased_bytes, aliased_length);
                length = aliased_length;
            }
        }
        if (grouped && m_member_base != static_cast<int>(host_address_scratch)) {
            // A member through its base's own host register: gs:[base32 + displacement]; r14 is
            // as it was (see grouped_access).
            length = sizeof bytes;
            if (!encode_identity(guest, plan, m_isa_features, bytes, length, true, m_group_offset,
                                 static_cast<unsigned>(m_member_base), m_member_index,
                                 m_member_scale))
                return false; // (never seen: the same form with r14 encodes)
            m_group_offset = 0;
            r14_group_kept = r14_was_kept;
        } else if (grouped && m_aliased_access && m_group_offset == 0) {
            std::memcpy(bytes, aliased_bytes, aliased_length); // a member at the base: gs:[r14d]
            length = aliased_length;
        }
        if (m_group_offset != 0) {
            // A group member: [r14 + offset] (gs:[r14d + offset] with page aliases), unless the
            // alignment test below needs the address itself (or, never seen, that form does not
            // encode).
            std::uint8_t offset_bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
            ZyanUSize offset_length = sizeof offset_bytes;
            if (aligned || !encode_identity(guest, plan, m_isa_features, offset_bytes,
                                            offset_length, m_aliased_access, m_group_offset)) {
                lea(r14, ptr[r14 + m_group_offset]);
                m_group_offset = 0;
                r14_group_kept = false;
                if (m_aliased_access) {
                    std::memcpy(bytes, aliased_bytes, aliased_length);
                    length = aliased_length;
                }
            } else {
                std::memcpy(bytes, offset_bytes, offset_length);
                length = offset_length;
            }
        }
        if (aligned) {
            // misaligned: #GP from the interpreter, not a host fault
            save_flags(m_live); // the test clobbers them (a grouped access left them in place)
            m_host_flags_valid = false;
            test(r14b, static_cast<std::uint8_t>(operand.size / 8 - 1));
            jnz(fallback);
        }
    }
    if (division) division_guard(guest, plan, fallback);
    if (plan.mxcsr) mxcsr_enter(fallback);
    // (Not when the flags it keeps are dead: inc/dec before an add.)
    if (needs_guest_flags(guest)) restore_host_flags();
    // A register the instruction uses only as 8 or 16 bits loads just those (a wider load
    // right after a narrower store to the home cannot take the stored bytes from the store
    // buffer, and waits for the store to reach the cache: ~15 cycles, in gzip's hottest loop).
    for (unsigned r = 0; r < plan.renamed; ++r) {
        if (!plan.renamed_read[r]) continue;
        const auto guest_number = static_cast<unsigned>(plan.renamed_guest[r]);
        const auto host = static_cast<int>(rename_host[r]);
        const auto slot = r15 + m_layout.gpr + static_cast<int>(8 * guest_number);
        if (plan.renamed_size[r] == 8)
            movzx(Xbyak::Reg32(host), byte[slot]);
        else if (plan.renamed_size[r] == 16)
            movzx(Xbyak::Reg32(host), word[slot]);
        else
            mov(Xbyak::Reg64(host), home(guest_number));
    }
    for (unsigned x = 0; x < plan.xmm_renamed; ++x) {
        const int host = static_cast<int>(x);
        if (!vex) {
            movdqu(Xbyak::Xmm(host), xmm_home(plan.xmm_guest[x]));
            continue;
        }
        // A VEX destination is only written (its old value never reaches the result).
        if (!plan.xmm_read[x]) continue;
        // VEX encodings only, so the host never pays for mixing them with legacy SSE.
        vmovdqu(Xbyak::Xmm(host), xmm_home(plan.xmm_guest[x]));
        if (plan.vector_bytes == 32)
            vinsertf128(Xbyak::Ymm(host), Xbyak::Ymm(host), upper_home(plan.xmm_guest[x]), 1);
    }
    for (ZyanUSize i = 0; i < length; ++i)
        db(bytes[i]);
    // A compare's flags must reach the slot before anything else touches the flags.
    if (plan.mxcsr && guest.flags_may_change) {
        m_host_flags_valid = true;
        m_slot_current = false;
        save_flags(guest.flags_live_out); // r13 and rax are as the instruction left them
    }
    for (unsigned r = 0; r < plan.renamed; ++r) {
        if (!plan.renamed_written[r]) continue;
        const auto guest_number = static_cast<unsigned>(plan.renamed_guest[r]);
        const auto host = static_cast<int>(rename_host[r]);
        const auto slot = r15 + m_layout.gpr + static_cast<int>(8 * guest_number);
        // Used only as 8 or 16 bits, the instruction wrote only those: store just them (the
        // register was loaded as just them, or not at all for a move into it).
        if (plan.renamed_size[r] == 8)
            mov(byte[slot], Xbyak::Reg8(host));
        else if (plan.renamed_size[r] == 16)
            mov(word[slot], Xbyak::Reg16(host));
        else
            mov(home(guest_number), Xbyak::Reg64(host));
    }
    const bool any_written = std::any_of(plan.xmm_written, plan.xmm_written + plan.xmm_renamed,
                                         [](bool w) { return w; });
    if (plan.vector_bytes == 16 && any_written) vpxor(xmm3, xmm3, xmm3); // VEX.128 zeroes 128-255
    for (unsigned x = 0; x < plan.xmm_renamed; ++x) {
        if (!plan.xmm_written[x]) continue;
        const int host = static_cast<int>(x);
        if (!vex) {
            movdqu(xmm_home(plan.xmm_guest[x]), Xbyak::Xmm(host));
            continue;
        }
        vmovdqu(xmm_home(plan.xmm_guest[x]), Xbyak::Xmm(host));
        if (plan.vector_bytes == 32)
            vextractf128(upper_home(plan.xmm_guest[x]), Xbyak::Ymm(host), 1);
        else
            vmovdqu(upper_home(plan.xmm_guest[x]), xmm3);
    }
    if (plan.vector_bytes == 32) vzeroupper(); // no dirty upper state for the host's code
    if (plan.mxcsr) mxcsr_leave();             // after the write-backs: it uses r13
    if (guest.flags_may_change && !plan.mxcsr) flags_written();
    const std::uint8_t* after = getCurr();
    const bool r14_untouched = plan.renamed < 2; // (a second renamed register lives in r14)
    if (r14_group_kept && r14_untouched && !division && !plan.mxcsr && !guarded && !aligned)
        m_r14_group_end = after;
    if (plan.memory_operand >= 0 || division || plan.mxcsr || guarded)
        fallback_path(k, guest, fallback, after);
    return true;
}

bool Emitter::load_effective_address(const GuestInstruction& guest) {
    const ZydisDecodedInstruction& instruction = guest.instruction;
    const ZydisDecodedOperand& destination = guest.operands[0];
    const ZydisDecodedOperand& source = guest.operands[1];
    if (instruction.address_width == 16 || destination.size < 32) return false;
    const int number = gpr_number(destination.reg.value);
    if (number < 0) return false;
    const auto in_host = [](ZydisRegister reg) {
        return reg == ZYDIS_REGISTER_NONE ||
               (gpr_number(reg) >= 0 &&
                guest_in_same_register(static_cast<unsigned>(gpr_number(reg))));
    };
    if (guest_in_same_register(static_cast<unsigned>(number)) && in_host(source.mem.base) &&
        in_host(source.mem.index) && !guest.renamed) {
        for (unsigned i = 0; i < instruction.length; ++i) // runs as is
            db(guest.bytes[i]);
        return true;
    }
    address(guest, source, false);
    if (destination.size == 32) mov(r14d, r14d);
    if (guest_in_host_register(static_cast<unsigned>(number)))
        mov(host64(number), r14);
    else
        mov(home(static_cast<unsigned>(number)), r14);
    return true;
}

} // namespace emit

using emit::Emitter;

BlockTranslator::BlockTranslator(const JitLayout& layout, const JitRuntime& runtime)
    : m_layout(layout), m_runtime(runtime) {
    ZydisDecoderInit(&m_decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

bool BlockTranslator::translate(Translation& out, const CodeBlock& block, const std::uint8_t* bytes,
                                std::uint64_t linear, bool user, CodeCache& cache) {
    out.linear = linear;
    out.native_ops = out.fallback_ops = 0;
    out.access_groups = out.grouped_accesses = 0;
    out.block_sites = {};
    out.region = nullptr;
    // (the bytes of the block's page, when it lies in one)
    const std::uint8_t* page =
        block.next_page == CodeBlock::no_page ? bytes - (linear & 0xfff) : nullptr;
    const std::span<GuestInstruction> instructions = analyze_block(
        m_decoder, block, bytes, linear, m_instructions, live_after(block, linear, page));
    out.flags_dead_at_entry = flags_dead_at_entry(instructions);
    const bool groups = makes_groups(user);
    if (groups) plan_access_groups(instructions, m_groups);
    if (cache.available() < 4096) return false;
    try {
        Emitter emitter(cache.available(), cache.current(), m_layout, m_runtime, out,
                        block.ops.data(), user, m_isa_features, hints_for(user),
                        groups ? &m_groups : nullptr);
        emitter.set_page_aliases(m_page_aliases && user);
        emitter.set_return_point_live(return_point_live(instructions, page));
        emitter.block(instructions);
        out.code = cache.current();
        out.code_size = emitter.getSize();
        cache.commit(out.code_size);
        return true;
    } catch (const Xbyak::Error&) {
        return false; // out of room: the caller flushes the cache
    }
}

std::uint32_t BlockTranslator::live_after(const CodeBlock& block, std::uint64_t linear,
                                          const std::uint8_t* page) {
    // Only successors in the block's page: a store to their bytes makes this translation
    // stale too, so it never outlives what it assumed of them.
    std::uint64_t successors[2];
    unsigned count = page != nullptr ? block_successors(block, linear, successors) : 0;
    // A direct call: its callee's first instructions (the ABI leaves flags dead at a call,
    // but a guest may pass them; flags a callee reads are kept).
    if (count == 0 && page != nullptr && block_call_target(block, linear, successors[0])) count = 1;
    if (count == 0) return arithmetic_mask;
    std::uint32_t live = 0;
    for (unsigned i = 0; i < count; ++i) {
        if (successors[i] >> 12 != linear >> 12) return arithmetic_mask;
        const std::size_t offset = successors[i] & 0xfff;
        live |= flags_read_on_entry(m_decoder, page + offset, 4096 - offset);
    }
    return live;
}

std::uint32_t BlockTranslator::return_point_live(std::span<const GuestInstruction> instructions,
                                                 const std::uint8_t* page) {
    const GuestInstruction& last = instructions.back();
    if (page == nullptr || !last.decoded || last.instruction.mnemonic != ZYDIS_MNEMONIC_CALL ||
        last.next >> 12 != last.linear >> 12)
        return arithmetic_mask;
    const std::size_t offset = last.next & 0xfff;
    return flags_read_on_entry(m_decoder, page + offset, 4096 - offset);
}

BlockTranslator::RegionResult BlockTranslator::translate_region(Translation& out,
                                                                std::span<const RegionBlock> blocks,
                                                                const std::uint8_t* page, bool user,
                                                                CodeCache& cache,
                                                                const std::uint8_t* bail) {
    if (!makes_regions(user) || blocks.empty()) return RegionResult::unsuitable;
    out.linear = blocks.front().linear;
    out.native_ops = out.fallback_ops = 0;
    out.access_groups = out.grouped_accesses = out.hoisted_groups = 0;
    out.region_blocks = static_cast<std::uint32_t>(blocks.size());
    out.region = std::make_unique<RegionStorage>();
    std::vector<DecodedOp>& ops = out.region->ops;
    m_region_instructions.clear();
    m_links.clear();
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const RegionBlock& part = blocks[i];
        const std::span<GuestInstruction> instructions =
            analyze_block(m_decoder, *part.block, page + (part.linear & 0xfff), part.linear,
                          m_instructions, live_after(*part.block, part.linear, page));
        if (instructions.empty()) return RegionResult::unsuitable;
        const std::uint64_t next = blocks[(i + 1) % blocks.size()].linear;
        std::uint64_t successors[2];
        const unsigned count = block_successors(*part.block, part.linear, successors);
        if (std::find(successors, successors + count, next) == successors + count ||
            !instructions.back().decoded)
            return RegionResult::unsuitable;
        m_region_instructions.insert(m_region_instructions.end(), instructions.begin(),
                                     instructions.end());
        ops.insert(ops.end(), part.block->ops.begin(), part.block->ops.end());
        m_links.push_back({m_region_instructions.size() - 1, next});
    }
    const std::span<GuestInstruction> instructions(m_region_instructions);
    const RegisterLoans loans = m_register_loans ? lend_registers(instructions) : RegisterLoans{};
    out.flags_dead_at_entry = flags_dead_at_entry(instructions);
    plan_access_groups(instructions, m_groups, m_links);
    if (cache.available() < 4096) return RegionResult::no_room;
    try {
        Emitter emitter(cache.available(), cache.current(), m_layout, m_runtime, out, ops.data(),
                        user, m_isa_features, hints_for(user), &m_groups);
        emitter.set_page_aliases(m_page_aliases && user);
        emitter.set_loans(loans.span());
        out.region->register_loans = static_cast<std::uint32_t>(loans.count);
        emitter.region(instructions, m_links, bail);
        if (out.hoisted_groups != 0 && out.fallback_ops != 0) return RegionResult::unsuitable;
        out.code = cache.current();
        out.code_size = emitter.getSize();
        cache.commit(out.code_size);
        return RegionResult::translated;
    } catch (const Xbyak::Error&) {
        return RegionResult::no_room;
    }
}

} // namespace vessel::soft
