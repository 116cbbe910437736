// JitRuntime: the entry/exit trampolines and the helpers translated code calls.
#include "engine/soft/translator/jit_runtime.hpp"

#include "engine/soft/translator/host_extensions.hpp"

#include <cstring>

#include <xbyak/xbyak.h>

namespace vessel::soft {

namespace {

std::int32_t offset_of(const CpuCore& cpu, const void* field) {
    return static_cast<std::int32_t>(static_cast<const char*>(field) -
                                     reinterpret_cast<const char*>(&cpu));
}

} // namespace

JitLayout JitLayout::of(const CpuCore& cpu) {
    JitLayout layout;
    layout.gpr = offset_of(cpu, &cpu.gpr[0]);
    layout.rip = offset_of(cpu, &cpu.rip);
    layout.segment_base = offset_of(cpu, &cpu.segment_base[0]);
    layout.xmm = offset_of(cpu, &cpu.fpu.xmm[0]);
    layout.mxcsr = offset_of(cpu, &cpu.fpu.mxcsr);
    layout.mxcsr_scratch = offset_of(cpu, &cpu.jit.mxcsr_scratch);
    layout.host_mxcsr = offset_of(cpu, &cpu.jit.host_mxcsr);
    layout.flags = offset_of(cpu, &cpu.jit.flags);
    layout.saved_flags = offset_of(cpu, &cpu.jit.saved_flags);
    layout.spill = offset_of(cpu, &cpu.jit.spill);
    layout.entry_rsp = offset_of(cpu, &cpu.jit.entry_rsp);
    layout.frame_limit = offset_of(cpu, &cpu.jit.frame_limit);
    layout.budget = offset_of(cpu, &cpu.jit.budget);
    layout.exit_site = offset_of(cpu, &cpu.jit.exit_site);
    layout.tlb = offset_of(cpu, &cpu.jit.tlb.entries[0][0][0]);
    layout.tlb_hints = offset_of(cpu, &cpu.jit.tlb_hints.slots[0]);
    layout.jumps = offset_of(cpu, &cpu.jit.jumps.entries[0]);
    layout.jump_stamp = offset_of(cpu, &cpu.jit.jump_stamp);
    layout.global_jump_stamp = offset_of(cpu, &cpu.jit.global_jump_stamp);
    layout.context = offset_of(cpu, &cpu.jit.context);
    layout.branch_target = offset_of(cpu, &cpu.jit.branch_target);
    layout.string_next = offset_of(cpu, &cpu.jit.string_next[0]);
    layout.group_host = offset_of(cpu, &cpu.jit.group_host[0]);
    layout.alias_pins = offset_of(cpu, &cpu.jit.alias_pins[0]);
    layout.rflags = offset_of(cpu, &cpu.rflags);
    layout.ymm_upper = offset_of(cpu, &cpu.fpu.ymm_upper[0]);
    layout.cr0 = offset_of(cpu, &cpu.cr0);
    layout.cr4 = offset_of(cpu, &cpu.cr4);
    layout.xcr0 = offset_of(cpu, &cpu.xcr0);
    layout.fpu_control = offset_of(cpu, &cpu.fpu.control);
    layout.segment_selector = offset_of(cpu, &cpu.segments[0].selector);
    layout.segment_stride = static_cast<std::int32_t>(sizeof cpu.segments[0]);
    layout.user_window_count = offset_of(cpu, &cpu.user_window_count());
    return layout;
}

std::uint8_t* jit_fill_helper(CpuCore* cpu, std::uint64_t address, std::uint32_t request) {
    return cpu->jit_host_address(address, request & 0xff, (request >> 8) & 1, (request >> 9) & 1,
                                 (request >> 10) & 1);
}

std::uint32_t jit_interpret_helper(CpuCore* cpu, const DecodedOp* op) {
    CpuCore& core = *cpu;
    core.set_flags((core.rflags & ~arithmetic_flags) | (core.jit.flags & arithmetic_flags));
    core.instruction_rip = core.rip;
    core.rip += op->length;
    core.exit_block = false;
    ++core.jit.interpreted_by_mnemonic[op->mnemonic % std::size(core.jit.interpreted_by_mnemonic)];
    try {
        op->handler(core, *op);
    } catch (const GuestFault&) {
        core.rip = core.instruction_rip;
        core.jit.deferred = std::current_exception();
        return static_cast<std::uint32_t>(HelperResult::Exit);
    } catch (...) {
        core.jit.deferred = std::current_exception();
        return static_cast<std::uint32_t>(HelperResult::Exit);
    }
    // A completed rep string instruction goes on in the block (a stopped one set exit_block).
    if (core.exit_block || (op->ends_block && !op->resumable))
        return static_cast<std::uint32_t>(HelperResult::Exit);
    core.jit.flags = core.flags() & arithmetic_flags;
    return static_cast<std::uint32_t>(HelperResult::Continue);
}

namespace {

using namespace Xbyak::util;

/// Stores (spill) or loads every guest GPR that lives in a host register (or only those a C
/// function may clobber: rbx, rbp and r12 survive a call in the System V ABI).
void move_guest_registers(Xbyak::CodeGenerator& code, const JitLayout& layout, bool store,
                          bool caller_saved_only = false) {
    for (unsigned guest = 0; guest < 16; ++guest) {
        const int host = host_register_of(guest);
        if (host < 0) continue;
        if (caller_saved_only && (host == 3 || host == 5 || host == 12)) continue;
        const auto slot = code.qword[r15 + layout.gpr + static_cast<int>(8 * guest)];
        if (store)
            code.mov(slot, Xbyak::Reg64(host));
        else
            code.mov(Xbyak::Reg64(host), slot);
    }
}

/// Calls `function` from a stub entered by a near call (rsp 8 bytes off the 16-byte alignment).
void call_aligned(Xbyak::CodeGenerator& code, const void* function) {
    code.sub(rsp, 8);
    code.mov(rax, reinterpret_cast<std::uintptr_t>(function));
    code.call(rax);
    code.add(rsp, 8);
}

} // namespace

void emit_save_guest_flags(Xbyak::CodeGenerator& code, const JitLayout& layout) {
    code.mov(r13, rax);
    code.lahf();
    code.seto(al);
    code.mov(code.word[r15 + layout.saved_flags], ax);
    code.mov(rax, r13);
}

void emit_tlb_index(Xbyak::CodeGenerator& code) {
    static_assert(JitTlb::entry_shift == 4 && JitTlb::size <= (1u << 20));
    if (host_has_bmi2()) {
        code.rorx(r13d, r14d, 12 - JitTlb::entry_shift); // one instruction for copy and shift
    } else {
        code.mov(r13d, r14d);
        code.shr(r13d, 12 - JitTlb::entry_shift);
    }
    code.and_(r13d, (JitTlb::size - 1) << JitTlb::entry_shift);
}

void emit_restore_guest_flags(Xbyak::CodeGenerator& code, const JitLayout& layout) {
    code.mov(r13, rax);
    code.mov(ax, code.word[r15 + layout.saved_flags]);
    code.add(al, 0x7f); // OF = (al == 1)
    code.sahf();
    code.mov(rax, r13);
}

void emit_jump_lookup(Xbyak::CodeGenerator& code, const JitLayout& layout,
                      const std::uint8_t* common_exit, bool flags_saved) {
    code.mov(code.qword[r15 + layout.rip], r14);
    if (!flags_saved) emit_save_guest_flags(code, layout); // the compares below clobber them
    Xbyak::Label slow;
    // r13 = JitJumpTable::set(r14) << set_shift: the set's byte offset
    static_assert(JitJumpTable::ways == 2 && JitJumpTable::set_shift == 6);
    code.imul(r13, r14, static_cast<int>(JitJumpTable::hash_multiplier));
    code.shr(r13, 32 - JitJumpTable::set_shift);
    code.and_(r13d, (JitJumpTable::set_count - 1) << JitJumpTable::set_shift);
    Xbyak::Label found;
    code.cmp(r14, code.qword[r15 + r13 + layout.jumps]);
    code.je(found);
    code.cmp(r14, code.qword[r15 + r13 + layout.jumps + sizeof(JitJumpEntry)]);
    code.jne(slow, Xbyak::CodeGenerator::T_NEAR);
    code.add(r13d, static_cast<std::uint32_t>(sizeof(JitJumpEntry))); // the second way
    code.L(found);
    code.mov(r14, code.qword[r15 + r13 + layout.jumps + 8]);
    Xbyak::Label stamp_valid;
    code.cmp(r14, code.qword[r15 + layout.jump_stamp]);
    code.je(stamp_valid);
    code.cmp(r14, code.qword[r15 + layout.global_jump_stamp]);
    code.jne(slow, Xbyak::CodeGenerator::T_NEAR);
    code.L(stamp_valid);
    code.mov(r14, code.qword[r15 + r13 + layout.jumps + 24]);
    code.cmp(r14, code.qword[r15 + layout.context]);
    code.jne(slow, Xbyak::CodeGenerator::T_NEAR);
    code.cmp(code.dword[r15 + layout.budget], 0);
    code.je(slow, Xbyak::CodeGenerator::T_NEAR);
    code.dec(code.dword[r15 + layout.budget]);
    code.mov(r14, code.qword[r15 + r13 + layout.jumps + 16]);
    emit_restore_guest_flags(code, layout);
    code.jmp(r14);
    code.L(slow);
    emit_restore_guest_flags(code, layout);
    code.mov(code.qword[r15 + layout.exit_site], 0);
    code.jmp(common_exit);
}

JitRuntime JitRuntime::emit(CodeCache& cache, const JitLayout& layout) {
    Xbyak::CodeGenerator code(cache.available(), cache.current());
    JitRuntime runtime;
    // enter(cpu = rdi, code = rsi): save the host's callee-saved registers, align the stack so
    // helpers can be called directly, load the guest state and jump to the block.
    runtime.m_enter = reinterpret_cast<EnterFunction>(const_cast<std::uint8_t*>(code.getCurr()));
    for (const auto* reg : {&rbx, &rbp, &r12, &r13, &r14, &r15})
        code.push(*reg);
    code.sub(rsp, 8);
    code.mov(r15, rdi);
    code.mov(r14, rsi);
    // Translated calls push return frames below this rsp (JitContext::entry_rsp).
    code.mov(code.qword[r15 + layout.entry_rsp], rsp);
    code.lea(r13, code.ptr[rsp - static_cast<int>(16 * JitContext::return_frames)]);
    code.mov(code.qword[r15 + layout.frame_limit], r13);
    code.push(code.qword[r15 + layout.flags]); // arithmetic bits only: DF, TF, AC stay clear
    code.popfq();
    move_guest_registers(code, layout, false);
    code.jmp(r14);

    code.align(16);
    runtime.m_common_exit = code.getCurr();
    move_guest_registers(code, layout, true);
    code.pushfq();
    code.pop(code.qword[r15 + layout.flags]);
    code.xor_(eax, eax); // JitExit::Translated
    Xbyak::Label epilogue;
    code.jmp(epilogue);

    code.align(16);
    runtime.m_helper_exit = code.getCurr();
    code.mov(eax, static_cast<std::uint32_t>(JitExit::Helper));
    code.L(epilogue);
    code.mov(rsp, code.qword[r15 + layout.entry_rsp]); // without the return frames left
    code.add(rsp, 8);
    for (const auto* reg : {&r15, &r14, &r13, &r12, &rbp, &rbx})
        code.pop(*reg);
    code.ret();

    // Translated code runs with rsp 16-byte aligned; a near call to a stub pushes 8 bytes, so
    // each stub realigns before calling C.
    code.align(16);
    runtime.m_tlb_miss_stub = code.getCurr();
    move_guest_registers(code, layout, true, true);
    code.mov(rdi, r15);
    code.mov(rsi, r14);
    code.mov(edx, r13d);
    call_aligned(code, reinterpret_cast<const void*>(&jit_fill_helper));
    code.mov(r14, rax);
    move_guest_registers(code, layout, false, true);
    code.ret();

    code.align(16);
    runtime.m_interpret_stub = code.getCurr();
    move_guest_registers(code, layout, true);
    code.mov(rdi, r15);
    code.mov(rsi, r13);
    call_aligned(code, reinterpret_cast<const void*>(&jit_interpret_helper));
    code.test(eax, eax);
    Xbyak::Label leave;
    code.jnz(leave);
    code.push(code.qword[r15 + layout.flags]);
    code.popfq();
    move_guest_registers(code, layout, false);
    code.ret();
    code.L(leave);
    code.add(rsp, 8); // the stub's return address: the helper exit expects the entry's stack
    code.jmp(runtime.m_helper_exit);

    code.align(16);
    runtime.m_jump_stub = code.getCurr();
    emit_jump_lookup(code, layout, runtime.m_common_exit);
    code.align(16);
    runtime.m_jump_stub_flags_saved = code.getCurr();
    emit_jump_lookup(code, layout, runtime.m_common_exit, true);

    // unhint: two overlapping 8-byte stores write emit_tlb_index's code over a hinted site's
    // (its own thread runs the code: x86 keeps instruction fetch coherent with the stores).
    std::uint8_t index_code[32]{};
    {
        Xbyak::CodeGenerator scratch(sizeof index_code, index_code);
        emit_tlb_index(scratch);
        runtime.m_tlb_index_size = scratch.getSize();
    }
    std::uint64_t head = 0, tail = 0;
    std::memcpy(&head, index_code, 8);
    std::memcpy(&tail, index_code + runtime.m_tlb_index_size - 8, 8);
    code.align(16);
    runtime.m_unhint_stub = code.getCurr();
    code.push(rax); // not JitContext::spill: a string instruction keeps rdi there across lookups
    code.mov(rax, head);
    code.mov(code.qword[r13], rax);
    code.mov(rax, tail);
    code.mov(code.qword[r13 + static_cast<int>(runtime.m_tlb_index_size) - 8], rax);
    code.pop(rax);
    code.ret();
    code.align(64);
    runtime.m_size = code.getSize();
    cache.commit(runtime.m_size);
    return runtime;
}

} // namespace vessel::soft
