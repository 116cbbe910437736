// Emitter, memory operands: the linear address of an operand, the inline JIT TLB lookup with
// its per-site guess (JitTlbHint), and the out-of-line interpreter fallback.
#include "engine/soft/translator/emitter.hpp"

#include <cstring>

namespace vessel::soft::emit {

void Emitter::address(const GuestInstruction& guest, const ZydisDecodedOperand& operand,
                      bool with_segment) {
    const auto& memory = operand.mem;
    const std::int64_t displacement = memory.disp.has_displacement ? memory.disp.value : 0;
    if (memory.base == ZYDIS_REGISTER_RIP || memory.base == ZYDIS_REGISTER_EIP) {
        mov(r14, guest.next + static_cast<std::uint64_t>(displacement));
    } else {
        const int base = gpr_number(memory.base);
        const int index = gpr_number(memory.index);
        Xbyak::RegExp expression(static_cast<std::int32_t>(displacement));
        if (base >= 0) {
            if (guest_in_host_register(base)) {
                expression = expression + host64(base);
            } else {
                mov(r14, home(static_cast<unsigned>(base)));
                expression = expression + r14;
            }
        }
        if (index >= 0) {
            const int scale = memory.scale == 0 ? 1 : memory.scale;
            if (guest_in_host_register(index)) {
                expression = expression + host64(index) * scale;
            } else {
                mov(r13, home(static_cast<unsigned>(index)));
                expression = expression + r13 * scale;
            }
        }
        lea(r14, ptr[expression]);
    }
    if (guest.instruction.address_width == 32) mov(r14d, r14d);
    if (with_segment &&
        (memory.segment == ZYDIS_REGISTER_FS || memory.segment == ZYDIS_REGISTER_GS)) {
        const int segment = memory.segment - ZYDIS_REGISTER_ES;
        mov(r13, qword[r15 + m_layout.segment_base + 8 * segment]);
        lea(r14, ptr[r14 + r13]);
    }
}

void Emitter::lookup(unsigned size, bool write, Xbyak::Label& fallback, bool held) {
    save_flags(m_live);
    const int table = m_layout.tlb_table(m_user, write);
    m_aliased_access = m_page_aliases && !held;
    m_group_offset = 0;
    m_member_base = host_address_scratch;
    m_member_index = -1;
    if (m_aliased_access) {
        aliased_lookup(size, write, fallback, table);
        return;
    }
    const std::uint8_t* index = getCurr();
    const int hint = allocate_hint();
    if (hint >= 0) {
        // The site's guess (JitTlbHint), padded to the hashed index's size for unhint.
        mov(r13d, dword[r15 + hint]);
        nop(m_runtime.tlb_index_size() - static_cast<std::size_t>(getCurr() - index));
    } else {
        emit_tlb_index(*this);
    }
    // Hit when 0 <= address - page <= 4096 - size: the right page, and the access does not
    // run into the next one (unsigned compare; an address never matches its own slot's empty
    // tag, JitTlbEntry::invalid_tag).
    sub(r14, qword[r15 + r13 + table]);
    cmp(r14, static_cast<std::uint32_t>(4096 - size));
    const Forward miss = jump_forward(condition_above);
    add(r14, qword[r15 + r13 + table + 8]);
    const std::uint8_t* resume = getCurr();
    m_host_flags_valid = false;
    const std::uint32_t request = size | (write ? 1u << 8 : 0u) | (m_user ? 1u << 9 : 0u) |
                                  (m_page_aliases ? 1u << 10 : 0u); // held: RAM's own mapping
    m_cold.push_back([this, miss, resume, &fallback, index, request, table, size, hint, write] {
        bind(miss);
        add(r14, qword[r15 + r13 + table]); // the linear address again
        if (hint >= 0) hint_miss(hint, table, size, index, resume);
        if (m_page_aliases) // a held access in user code: the second way's table too
            try_table(m_layout.second_way_table(write), size, resume);
        mov(r13d, request);
        call(m_runtime.tlb_miss_stub());
        test(r14, r14);
        jnz(resume);
        jmp(fallback);
    });
}

Xbyak::RegExp Emitter::looked_up() {
    if (!m_aliased_access) return Xbyak::RegExp(r14) + m_group_offset;
    db(0x65); // gs
    if (m_member_index >= 0)
        return Xbyak::RegExp(Xbyak::Reg32(m_member_base)) +
               Xbyak::Reg32(m_member_index) * static_cast<int>(m_member_scale) + m_group_offset;
    return Xbyak::RegExp(Xbyak::Reg32(m_member_base)) + m_group_offset;
}

Emitter::Forward Emitter::aliased_check(int table, unsigned size) {
    // Hit when the entry's tag is the address's page and the access ends in it:
    // (address ^ tag) <= 4096 - size. The access, gs:[r14d], does not wait for the tag: it
    // starts while the check is predicted.
    emit_tlb_index(*this);
    mov(r13, qword[r15 + r13 + table]);
    xor_(r13, r14);
    cmp(r13, static_cast<std::uint32_t>(4096 - size));
    return jump_forward(condition_above);
}

void Emitter::aliased_lookup(unsigned size, bool write, Xbyak::Label& fallback, int table) {
    const Forward miss = aliased_check(table, size);
    const std::uint8_t* resume = getCurr();
    m_host_flags_valid = false;
    const std::uint32_t request = size | (write ? 1u << 8 : 0u) | (m_user ? 1u << 9 : 0u);
    m_cold.push_back([this, miss, resume, &fallback, request, size, write] {
        bind(miss); // r14 still holds the linear address
        // The second way's page has its own position in the window too: the same access.
        const Forward fill = aliased_check(m_layout.second_way_table(write), size);
        jmp(resume);
        bind(fill);
        mov(r13d, request);
        call(m_runtime.tlb_miss_stub());
        test(r14, r14); // the linear address again, now with an alias; or 0: not possible
        jnz(resume);
        jmp(fallback);
    });
}

int Emitter::allocate_hint() {
    if (m_hints == nullptr) return -1;
    const unsigned slot = m_hints->next++ % JitTlbHints::size;
    m_hints->slots[slot] = JitTlbHint{};
    return m_layout.tlb_hints + static_cast<int>(slot * sizeof(JitTlbHint));
}

void Emitter::hint_miss(int hint, int table, unsigned size, const std::uint8_t* index,
                        const std::uint8_t* resume) {
    const auto guess = dword[r15 + hint];
    const auto misses_left = dword[r15 + hint + 4];
    emit_tlb_index(*this);
    // |entry - guess| <= one entry (a next or previous page, or the same entry refilled).
    sub(r13d, guess);
    add(r13d, static_cast<std::uint32_t>(sizeof(JitTlbEntry)));
    cmp(r13d, static_cast<std::uint32_t>(2 * sizeof(JitTlbEntry)));
    const Forward adjacent = jump_forward(condition_below_or_equal);
    sub(misses_left, 1);
    // none left (or the site already gave up: 0 - 1 borrows)
    const Forward give_up = jump_forward(condition_below_or_equal);
    bind(adjacent);
    sub(r13d, static_cast<std::uint32_t>(sizeof(JitTlbEntry)));
    add(r13d, guess);
    mov(guess, r13d);
    try_table(table, size, resume);
    const Forward fill = jump_forward(condition_always);
    bind(give_up);
    mov(misses_left, JitTlbHint::gave_up); // the patched site misses only for real
    lea(r13, ptr[rip + index]);
    call(m_runtime.unhint_stub());
    jmp(index);
    bind(fill);
}

void Emitter::try_table(int table, unsigned size, const std::uint8_t* resume) {
    sub(r14, qword[r15 + r13 + table]);
    cmp(r14, static_cast<std::uint32_t>(4096 - size));
    const Forward miss = jump_forward(condition_above);
    add(r14, qword[r15 + r13 + table + 8]);
    jmp(resume);
    bind(miss);
    add(r14, qword[r15 + r13 + table]); // the linear address again
}

Emitter::Forward Emitter::jump_forward(std::uint8_t condition) {
    if (condition == condition_always) {
        db(0xe9);
    } else {
        db(0x0f);
        db(0x80 | condition);
    }
    const Forward at{getSize()};
    dd(0);
    return at;
}

void Emitter::bind(Forward jump) {
    const auto displacement = static_cast<std::uint32_t>(getSize() - (jump.at + 4));
    std::memcpy(const_cast<std::uint8_t*>(getCode()) + jump.at, &displacement, 4);
}

void Emitter::fallback_path(std::size_t k, const GuestInstruction& guest, Xbyak::Label& fallback,
                            const std::uint8_t* after) {
    m_cold.push_back([this, k, &guest, &fallback, after] {
        interpret_fallback(k, guest, fallback);
        jmp(after);
    });
}

void Emitter::fallback_path(std::size_t k, const GuestInstruction& guest, Xbyak::Label& fallback,
                            Xbyak::Label& after) {
    m_cold.push_back([this, k, &guest, &fallback, &after] {
        interpret_fallback(k, guest, fallback);
        jmp(after);
    });
}

void Emitter::interpret_fallback(std::size_t k, const GuestInstruction& guest,
                                 Xbyak::Label& fallback) {
    L(fallback);
    emit_restore_flags();
    interpret(k, guest);
    // The main path may reach the continuation with the guest's flags only in the slot (a
    // floating-point compare): make the slot current here too.
    emit_save_guest_flags(*this, m_layout);
}

} // namespace vessel::soft::emit
