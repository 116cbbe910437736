// BlockTranslator: emission of one analysed guest block (block_analysis.hpp) as host code.
#include "engine/soft/translator/block_translator.hpp"

#include "engine/soft/translator/block_analysis.hpp"
#include "engine/soft/translator/host_extensions.hpp"
#include "engine/soft/translator/identity_plan.hpp"
#include "engine/soft/translator/instruction_classes.hpp"
#include "engine/soft/translator/smap_instructions.hpp"
#include "engine/soft/translator/vex_instructions.hpp"
#include "engine/soft/xsave_state.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <functional>
#include <vector>

#include <xbyak/xbyak.h>
#include <xbyak/xbyak_util.h>

namespace vessel::soft {

namespace {

using namespace Xbyak::util;

constexpr unsigned guest_rsp = 4;

/// Emits the host code of one block. Guest GPRs 0-11 except rsp are in the host register of the
/// same number; r15 holds the CpuCore; r13 and r14 are scratch (see jit_runtime.hpp).
class Emitter : public Xbyak::CodeGenerator {
  public:
    Emitter(std::size_t room, void* at, const JitLayout& layout, const JitRuntime& runtime,
            Translation& out, const DecodedOp* ops, bool user, std::uint32_t isa_features,
            TlbHintSlots* hints)
        : Xbyak::CodeGenerator(room, at), m_layout(layout), m_runtime(runtime), m_out(out),
          m_ops(ops), m_user(user), m_isa_features(isa_features), m_hints(hints) {
        setDefaultJmpNEAR(true);
    }

    void block(std::vector<GuestInstruction>& instructions) {
        bool ended = false;
        for (std::size_t k = 0; k < instructions.size() && !ended; ++k) {
            m_live = instructions[k].flags_live_in;
            m_linear = instructions[k].linear;
            ended = instruction(k, instructions[k]);
        }
        m_live = arithmetic_mask;
        if (!ended) exit_to(instructions.back().next);
        for (auto& cold : m_cold)
            cold();
    }

  private:
    /// The host register of guest GPR `number` (which must live in one).
    static Xbyak::Reg64 host64(int number) {
        return Xbyak::Reg64(host_register_of(static_cast<unsigned>(number)));
    }
    /// Guest rsp's host register.
    static Xbyak::Reg64 stack_pointer() { return host64(guest_rsp); }

    Xbyak::Address home(unsigned guest) {
        return qword[r15 + m_layout.gpr + static_cast<int>(8 * guest)];
    }
    Xbyak::Label& new_label() { return m_labels.emplace_back(); }

    /// Puts the guest flags back into the host flags from the slot lookups save them in.
    /// (lahf/sahf and seto/add: no popf, which is microcoded and slow). Uses r13.
    void restore_host_flags() {
        if (m_host_flags_valid) return;
        emit_restore_flags();
        m_host_flags_valid = true;
    }
    void emit_restore_flags() { emit_restore_guest_flags(*this, m_layout); }
    /// Copies the host flags (the guest's) into the slot, unless it already holds them or no
    /// flag is live here. Uses r13.
    ///
    /// Dead flags are not saved: nothing on the block's path reads them before overwriting them,
    /// so the interpreter (after a TLB miss) and an exception frame may see stale values there,
    /// and whatever runs next (the handler's return to this instruction) overwrites them first.
    void save_flags(std::uint32_t live) {
        if (m_slot_current || live == 0) return;
        emit_save_guest_flags(*this, m_layout);
        m_slot_current = true;
    }
    /// The host flags were just changed by guest code: they are the guest's, the slot is old.
    void flags_written() {
        m_host_flags_valid = true;
        m_slot_current = false;
    }

    void store_rip(std::uint64_t value) {
        const auto signed_value = static_cast<std::int64_t>(value);
        if (signed_value == static_cast<std::int32_t>(signed_value)) {
            mov(qword[r15 + m_layout.rip], value); // encoded as a sign-extended imm32
        } else {
            mov(r14, value); // r14 is free wherever rip is stored
            mov(qword[r15 + m_layout.rip], r14);
        }
    }

    /// Returns true when the instruction ended the block (its exits are emitted).
    bool instruction(std::size_t k, GuestInstruction& guest) {
        if (const auto op = static_cast<ZydisMnemonic>(m_ops[k].mnemonic);
            translates_alignment_check_flag(op, m_out.context, m_isa_features)) {
            save_flags(m_live); // stac/clac (smap_instructions.hpp) clobber the host flags
            m_host_flags_valid = false;
            Xbyak::Label& windows_open = new_label();
            Xbyak::Label& after = new_label();
            emit_alignment_check_flag(*this, m_layout, op == ZYDIS_MNEMONIC_STAC, windows_open);
            L(after);
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
                if ((m_isa_features & vex) == vex && host_has_extension(vex) &&
                    identity(k, guest)) {
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
            if (control_flow(k, guest)) {
                ++m_out.native_ops;
                return true;
            }
        }
        ++m_out.fallback_ops;
        restore_host_flags();
        interpret(k, guest);
        flags_written();
        return false;
    }

    /// Calls the interpreter for instruction k; the state is all in CpuCore around the call.
    /// The host flags must hold the guest's.
    void interpret(std::size_t k, const GuestInstruction& guest) {
        pushfq();
        pop(qword[r15 + m_layout.flags]);
        store_rip(guest.linear);
        mov(r13, reinterpret_cast<std::uintptr_t>(&m_ops[k]));
        call(m_runtime.interpret_stub());
    }

    /// The linear address of memory operand `operand` into r14, without touching flags.
    void address(const GuestInstruction& guest, const ZydisDecodedOperand& operand,
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

    /// Turns the linear address in r14 into a host address through the JIT TLB. The miss path
    /// asks the helper and, when it gives no address, jumps to `fallback` with the guest state
    /// untouched.
    ///
    /// The lookup's compare clobbers the host flags. The guest's are first saved in a slot
    /// (unless it already holds them), which stays their home until an instruction writes
    /// flags or one reads them (restore_host_flags): the miss path hands them to the
    /// interpreter exactly, so a fault shows the flags as they were.
    void lookup(unsigned size, bool write, Xbyak::Label& fallback) {
        save_flags(m_live);
        const int table = m_layout.tlb_table(m_user, write);
        Xbyak::Label& index = new_label();
        L(index);
        const std::uint8_t* index_start = getCurr();
        const int hint = allocate_hint();
        if (hint >= 0) {
            // The site's guess (JitTlbHint), padded to the hashed index's size for unhint.
            mov(r13d, dword[r15 + hint]);
            nop(m_runtime.tlb_index_size() - static_cast<std::size_t>(getCurr() - index_start));
        } else {
            emit_tlb_index(*this);
        }
        // Hit when 0 <= address - page <= 4096 - size: the right page, and the access does not
        // run into the next one (unsigned compare; an invalid entry's tag is never close).
        sub(r14, qword[r15 + r13 + table]);
        cmp(r14, static_cast<std::uint32_t>(4096 - size));
        Xbyak::Label& miss = new_label();
        Xbyak::Label& resume = new_label();
        ja(miss);
        add(r14, qword[r15 + r13 + table + 8]);
        L(resume);
        m_host_flags_valid = false;
        const std::uint32_t request = size | (write ? 1u << 8 : 0u) | (m_user ? 1u << 9 : 0u);
        m_cold.push_back([this, &miss, &resume, &fallback, &index, request, table, size, hint] {
            L(miss);
            add(r14, qword[r15 + r13 + table]); // the linear address again
            if (hint >= 0) hint_miss(hint, table, size, index, resume);
            mov(r13d, request);
            call(m_runtime.tlb_miss_stub());
            test(r14, r14);
            jnz(resume);
            jmp(fallback);
        });
    }

    /// A hint slot's offset from r15 for a new access site, or -1 for a hashed site.
    int allocate_hint() {
        if (m_hints == nullptr) return -1;
        const unsigned slot = m_hints->next++ % JitTlbHints::size;
        m_hints->slots[slot] = JitTlbHint{};
        return m_layout.tlb_hints + static_cast<int>(slot * sizeof(JitTlbHint));
    }

    /// A hinted site's miss path (r14 = the linear address): takes the hashed entry and makes it
    /// the guess; falls through to the fill when that entry misses too. A miss to a page not
    /// next to the guessed one counts against the site, which is patched to the hashed index
    /// when it has none left (and then counts no more).
    void hint_miss(int hint, int table, unsigned size, Xbyak::Label& index, Xbyak::Label& resume) {
        const auto guess = dword[r15 + hint];
        const auto misses_left = dword[r15 + hint + 4];
        Xbyak::Label& adjacent = new_label();
        Xbyak::Label& give_up = new_label();
        Xbyak::Label& fill = new_label();
        emit_tlb_index(*this);
        // |entry - guess| <= one entry (a next or previous page, or the same entry refilled).
        sub(r13d, guess);
        add(r13d, static_cast<std::uint32_t>(sizeof(JitTlbEntry)));
        cmp(r13d, static_cast<std::uint32_t>(2 * sizeof(JitTlbEntry)));
        jbe(adjacent);
        sub(misses_left, 1);
        jbe(give_up); // none left (or the site already gave up: 0 - 1 borrows)
        L(adjacent);
        sub(r13d, static_cast<std::uint32_t>(sizeof(JitTlbEntry)));
        add(r13d, guess);
        mov(guess, r13d);
        sub(r14, qword[r15 + r13 + table]);
        cmp(r14, static_cast<std::uint32_t>(4096 - size));
        ja(fill);
        add(r14, qword[r15 + r13 + table + 8]);
        jmp(resume);
        L(give_up);
        mov(misses_left, JitTlbHint::gave_up); // the patched site misses only for real
        lea(r13, ptr[rip + index]);
        call(m_runtime.unhint_stub());
        jmp(index);
        L(fill);
        add(r14, qword[r15 + r13 + table]); // the linear address again
    }

    /// The out-of-line interpreter call for instruction k after a TLB miss the helper could not
    /// serve; continues at `after`.
    void fallback_path(std::size_t k, const GuestInstruction& guest, Xbyak::Label& fallback,
                       Xbyak::Label& after) {
        m_cold.push_back([this, k, &guest, &fallback, &after] {
            L(fallback);
            emit_restore_flags();
            interpret(k, guest);
            // The main path may reach `after` with the guest's flags only in the slot (a
            // floating-point compare): make the slot current here too.
            emit_save_guest_flags(*this, m_layout);
            jmp(after);
        });
    }

    Xbyak::Address xmm_home(int guest) { return xword[r15 + m_layout.xmm + 16 * guest]; }
    /// Bits 128-255 of guest ymm`guest`.
    Xbyak::Address upper_home(int guest) { return xword[r15 + m_layout.ymm_upper + 16 * guest]; }

    /// Before the block's first VEX instruction: the interpreter takes it (and raises #NM or
    /// #UD) unless CR0.TS is clear, CR4.OSXSAVE is set and XCR0 enables SSE and YMM state
    /// (Intel SDM Vol. 2, 2.8). Nothing later in the block can change them: writes to CR0, CR4
    /// and XCR0 end translated code.
    void vex_guard(Xbyak::Label& fallback) {
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

    /// fnstcw m16: the x87 control word stored, unless CR0.EM or CR0.TS make it #NM (then the
    /// interpreter raises it). Compilers emit it around every float-to-integer conversion.
    bool store_control_word(std::size_t k, const GuestInstruction& guest) {
        const ZydisDecodedOperand& operand = guest.operands[0];
        if (operand.type != ZYDIS_OPERAND_TYPE_MEMORY || guest.instruction.address_width == 16)
            return false;
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        save_flags(m_live); // the test clobbers the flags
        m_host_flags_valid = false;
        test(byte[r15 + m_layout.cr0], static_cast<std::uint8_t>(x86::cr0::em | x86::cr0::ts));
        jnz(fallback);
        address(guest, operand, true);
        lookup(2, true, fallback);
        mov(r13w, word[r15 + m_layout.fpu_control]);
        mov(word[r14], r13w);
        L(after);
        fallback_path(k, guest, fallback, after);
        return true;
    }

    /// vzeroupper: zeroes bits 128-255 of every guest YMM register.
    void zero_upper_halves(std::size_t k, const GuestInstruction& guest) {
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        const bool guarded = !m_vex_checked;
        if (guarded) vex_guard(fallback);
        vpxor(xmm3, xmm3, xmm3); // all of ymm3, whose upper half stays clean
        for (int i = 0; i < 16; i += 2)
            vmovdqu(yword[r15 + m_layout.ymm_upper + 16 * i], ymm3);
        L(after);
        if (guarded) fallback_path(k, guest, fallback, after);
    }

    /// div traps on a zero divisor or a quotient that does not fit: both are "high half of the
    /// dividend >= divisor" (unsigned). Such a division goes to the interpreter, which raises
    /// #DE as the guest expects, instead of faulting on the host.
    void division_guard(const GuestInstruction& guest, const IdentityPlan& plan,
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
            cmp(high, size == 64 ? qword[r14] : size == 32 ? dword[r14] : word[r14]);
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

    /// Before a floating-point instruction: the interpreter takes it unless the guest masks
    /// every SSE exception (no #XM can come of it); else the host runs it under the guest's
    /// rounding, DAZ and FTZ with the exception flags cleared, to collect what it raises.
    void mxcsr_enter(Xbyak::Label& fallback) {
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
    /// After it: the host's MXCSR back, the raised exception flags added to the guest's (the
    /// guest's arithmetic flags are in the slot by then).
    void mxcsr_leave() {
        stmxcsr(dword[r15 + m_layout.mxcsr_scratch]);
        ldmxcsr(dword[r15 + m_layout.host_mxcsr]);
        mov(r13d, dword[r15 + m_layout.mxcsr_scratch]);
        and_(r13d, mxcsr_flags);
        or_(dword[r15 + m_layout.mxcsr], r13d);
        m_host_flags_valid = false; // the slot holds the guest's flags
    }
    static constexpr std::uint32_t mxcsr_flags = 0x3f;   ///< IE DE ZE OE UE PE (SDM Vol. 1, 10.2.3)
    static constexpr std::uint32_t mxcsr_masks = 0x1f80; ///< their mask bits

    bool identity(std::size_t k, GuestInstruction& guest) {
        IdentityPlan plan;
        if (!plan_identity(guest, plan)) return false;
        std::uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
        ZyanUSize length = sizeof bytes;
        if (!encode_identity(guest, plan, m_isa_features, bytes, length)) return false;

        const bool division = guest.instruction.mnemonic == ZYDIS_MNEMONIC_DIV;
        const bool vex = plan.vector_bytes != 0;
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        const bool guarded = vex && !m_vex_checked;
        if (guarded) vex_guard(fallback);
        if (plan.memory_operand >= 0) {
            const ZydisDecodedOperand& operand = guest.operands[plan.memory_operand];
            address(guest, operand, true);
            const bool write = (operand.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
            lookup(operand.size / 8, write, fallback);
            const ZydisMnemonic m = guest.instruction.mnemonic;
            if (vex ? vex_needs_alignment(m) : operand.size == 128 && needs_alignment(m)) {
                // misaligned: #GP from the interpreter, not a host fault
                test(r14b, static_cast<std::uint8_t>(operand.size / 8 - 1));
                jnz(fallback);
            }
        }
        if (division) division_guard(guest, plan, fallback);
        if (plan.mxcsr) mxcsr_enter(fallback);
        // An instruction reading flags, or writing only some (inc, dec keep CF), needs the
        // guest's flags in place.
        // (Not when the flags it keeps are dead: inc/dec before an add.)
        if (guest.flags_tested != 0 ||
            (guest.flags_written != 0 && guest.flags_written != arithmetic_mask &&
             (guest.flags_live_out & ~guest.flags_written) != 0))
            restore_host_flags();
        for (unsigned r = 0; r < plan.renamed; ++r)
            if (plan.renamed_read[r])
                mov(Xbyak::Reg64(static_cast<int>(rename_host[r])),
                    home(static_cast<unsigned>(plan.renamed_guest[r])));
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
        for (unsigned r = 0; r < plan.renamed; ++r)
            if (plan.renamed_written[r])
                mov(home(static_cast<unsigned>(plan.renamed_guest[r])),
                    Xbyak::Reg64(static_cast<int>(rename_host[r])));
        const bool any_written = std::any_of(plan.xmm_written, plan.xmm_written + plan.xmm_renamed,
                                             [](bool w) { return w; });
        if (plan.vector_bytes == 16 && any_written)
            vpxor(xmm3, xmm3, xmm3); // VEX.128 zeroes 128-255
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
        L(after);
        if (plan.memory_operand >= 0 || division || plan.mxcsr || guarded)
            fallback_path(k, guest, fallback, after);
        return true;
    }

    bool load_effective_address(const GuestInstruction& guest) {
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
            in_host(source.mem.index)) {
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

    /// rsp += delta, without touching flags.
    void adjust_stack(int delta) { lea(stack_pointer(), ptr[stack_pointer() + delta]); }

    /// mov r32/r64, Sreg: the selector, zero-extended (Intel SDM Vol. 2, MOV). Kernels read
    /// cs and ss this way before every iret to self (sync_core).
    bool read_segment_selector(const GuestInstruction& guest) {
        const ZydisDecodedOperand& destination = guest.operands[0];
        const ZydisDecodedOperand& source = guest.operands[1];
        if (destination.type != ZYDIS_OPERAND_TYPE_REGISTER || destination.size < 32 ||
            source.type != ZYDIS_OPERAND_TYPE_REGISTER ||
            ZydisRegisterGetClass(source.reg.value) != ZYDIS_REGCLASS_SEGMENT)
            return false;
        const int number = gpr_number(destination.reg.value);
        if (number < 0) return false;
        const int segment = source.reg.value - ZYDIS_REGISTER_ES;
        movzx(r13d, word[r15 + m_layout.segment_selector + segment * m_layout.segment_stride]);
        if (guest_in_host_register(static_cast<unsigned>(number)))
            mov(host64(number), r13);
        else
            mov(home(static_cast<unsigned>(number)), r13);
        return true;
    }

    /// pushfq (64-bit mode, where it is never privileged): the guest's arithmetic flags from the
    /// host's, the rest (IF, DF, IOPL, AC, ID) from CpuCore::rflags, RF and VM cleared in the
    /// image (Intel SDM Vol. 2, PUSHF). Kernels run it in every local_irq_save.
    bool push_flags(std::size_t k, const GuestInstruction& guest) {
        if (guest.instruction.operand_width != 64) return false;
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        lea(r14, ptr[stack_pointer() - 8]);
        lookup(8, true, fallback);
        restore_host_flags();
        pushfq();
        pop(r13);
        and_(r13d, arithmetic_mask);
        m_host_flags_valid = false; // the slot holds them (the lookup saved them: pushfq reads)
        mov(qword[r15 + m_layout.spill], r13);
        mov(r13, qword[r15 + m_layout.rflags]);
        and_(r13,
             static_cast<std::uint32_t>(~(arithmetic_mask | x86::rflags::rf | x86::rflags::vm)));
        or_(r13, qword[r15 + m_layout.spill]);
        mov(qword[r14], r13);
        adjust_stack(-8);
        L(after);
        fallback_path(k, guest, fallback, after);
        return true;
    }

    bool push_instruction(std::size_t k, GuestInstruction& guest) {
        const ZydisDecodedOperand& operand = guest.operands[0];
        if (guest.instruction.operand_width != 64) return false;
        if (operand.type != ZYDIS_OPERAND_TYPE_REGISTER &&
            operand.type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
            return false;
        const int number =
            operand.type == ZYDIS_OPERAND_TYPE_REGISTER ? gpr_number(operand.reg.value) : -1;
        if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER && number < 0) return false;
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        lea(r14, ptr[stack_pointer() - 8]);
        lookup(8, true, fallback);
        if (operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            mov(qword[r14], static_cast<std::uint64_t>(operand.imm.value.s)); // imm32, extended
        } else if (guest_in_host_register(static_cast<unsigned>(number))) {
            mov(qword[r14], host64(number)); // push rsp stores the old value
        } else {
            mov(r13, home(static_cast<unsigned>(number))); // push rsp stores the old value
            mov(qword[r14], r13);
        }
        adjust_stack(-8);
        L(after);
        fallback_path(k, guest, fallback, after);
        return true;
    }

    /// rep movs / rep stos with 64-bit addresses whose source and destination each lie in one
    /// page: the host's own rep movs/stos on the host addresses (the same element order, so
    /// overlapping moves come out as the guest's). Anything else (DF set, a run crossing a
    /// page, MMIO, a fault, a code page the helper will not hand out) goes to the interpreter.
    bool string_instruction(std::size_t k, GuestInstruction& guest) {
        const ZydisDecodedInstruction& instruction = guest.instruction;
        if (!(instruction.attributes & ZYDIS_ATTRIB_HAS_REP) ||
            instruction.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT || instruction.address_width != 64)
            return false;
        bool moves = false;
        switch (instruction.mnemonic) {
        case ZYDIS_MNEMONIC_MOVSB:
        case ZYDIS_MNEMONIC_MOVSW:
        case ZYDIS_MNEMONIC_MOVSD:
        case ZYDIS_MNEMONIC_MOVSQ:
            moves = true;
            break;
        case ZYDIS_MNEMONIC_STOSB:
        case ZYDIS_MNEMONIC_STOSW:
        case ZYDIS_MNEMONIC_STOSD:
        case ZYDIS_MNEMONIC_STOSQ:
            break;
        default:
            return false;
        }
        if (moves) {
            for (unsigned i = 0; i < instruction.operand_count; ++i) {
                const ZydisDecodedOperand& operand = guest.operands[i];
                if (operand.type == ZYDIS_OPERAND_TYPE_MEMORY &&
                    operand.mem.base == ZYDIS_REGISTER_RSI &&
                    operand.mem.segment != ZYDIS_REGISTER_DS)
                    return false; // an fs/gs source: the interpreter adds the base
            }
        }
        const unsigned element = instruction.operand_width / 8;
        const int scale_shift = std::countr_zero(element);
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        save_flags(m_live);
        m_host_flags_valid = false;
        test(rcx, rcx);
        jz(after); // no element: nothing happens, not even a fault
        test(byte[r15 + m_layout.rflags + 1], x86::rflags::df >> 8);
        jnz(fallback, T_NEAR);
        cmp(rcx, 4096 / element);
        ja(fallback, T_NEAR);
        const auto within_one_page = [&](const Xbyak::Reg64& start) {
            lea(r14, ptr[start + rcx * static_cast<int>(element) - 1]); // the last byte
            xor_(r14, start);
            shr(r14, 12);
            jnz(fallback, T_NEAR);
        };
        within_one_page(rdi);
        if (moves) within_one_page(rsi);
        mov(r14, rdi);
        lookup(1, true, fallback);
        if (moves) {
            mov(qword[r15 + m_layout.spill], r14);
            mov(r14, rsi);
            lookup(1, false, fallback);
        }
        lea(r13, ptr[rdi + rcx * static_cast<int>(element)]);
        mov(qword[r15 + m_layout.string_next + 8], r13);
        if (moves) {
            lea(r13, ptr[rsi + rcx * static_cast<int>(element)]);
            mov(qword[r15 + m_layout.string_next], r13);
            mov(rsi, r14);
            mov(rdi, qword[r15 + m_layout.spill]);
        } else {
            mov(rdi, r14);
        }
        rep();
        switch ((moves ? 4 : 0) + scale_shift) {
        case 0:
            stosb();
            break;
        case 1:
            stosw();
            break;
        case 2:
            stosd();
            break;
        case 3:
            stosq();
            break;
        case 4:
            movsb();
            break;
        case 5:
            movsw();
            break;
        case 6:
            movsd();
            break;
        default:
            movsq();
            break;
        }
        mov(rdi, qword[r15 + m_layout.string_next + 8]);
        if (moves) mov(rsi, qword[r15 + m_layout.string_next]);
        L(after);
        fallback_path(k, guest, fallback, after);
        return true;
    }

    bool pop_instruction(std::size_t k, GuestInstruction& guest) {
        const ZydisDecodedOperand& operand = guest.operands[0];
        if (guest.instruction.operand_width != 64 || operand.type != ZYDIS_OPERAND_TYPE_REGISTER)
            return false;
        const int number = gpr_number(operand.reg.value);
        if (number < 0 || number == static_cast<int>(guest_rsp)) return false;
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        mov(r14, stack_pointer());
        lookup(8, false, fallback);
        if (guest_in_host_register(static_cast<unsigned>(number))) {
            mov(host64(number), qword[r14]);
        } else {
            mov(r13, qword[r14]);
            mov(home(static_cast<unsigned>(number)), r13);
        }
        adjust_stack(8);
        L(after);
        fallback_path(k, guest, fallback, after);
        return true;
    }

    /// leave (64-bit): rsp = rbp, then pop rbp. The load comes first, so a fault leaves both
    /// as they were for the interpreter.
    bool leave_instruction(std::size_t k, const GuestInstruction& guest) {
        if (guest.instruction.operand_width != 64) return false;
        Xbyak::Label& fallback = new_label();
        Xbyak::Label& after = new_label();
        mov(r14, rbp);
        lookup(8, false, fallback);
        mov(r13, qword[r14]);
        lea(stack_pointer(), ptr[rbp + 8]);
        mov(rbp, r13);
        L(after);
        fallback_path(k, guest, fallback, after);
        return true;
    }

    /// Leaves for guest address `target`: chainable when it is on the block's page, else
    /// through the jump table.
    void exit_to(std::uint64_t target) {
        restore_host_flags();
        // Only targets of this page are chained; one in the last 14 bytes may start a
        // page-crossing instruction, which goes stale with the next page too.
        const bool same_page =
            (target >> 12) == (m_out.linear >> 12) && (target & 0xfff) <= 4096 - 15;
        if (!same_page || m_sites == m_out.sites.size()) {
            mov(r14, target);
            exit_indirect();
            return;
        }
        ChainSite& site = m_out.sites[m_sites++];
        site.target = target;
        Xbyak::Label out_of_budget, out_of_budget_fast, flag_safe_check, unchained;
        if (target > m_linear) {
            // A forward edge needs no budget check: every cycle of direct jumps has a backward
            // edge (to an address not above its branch), and indirect exits count in the stub.
            site.jump = const_cast<std::uint8_t*>(getCurr());
            db(0xe9); // jmp rel32: to the next instruction until chained
            dd(0);
            store_rip(target);
            mov(r14, reinterpret_cast<std::uintptr_t>(&site));
            mov(qword[r15 + m_layout.exit_site], r14);
            jmp(m_runtime.common_exit());
            return;
        }
        // Every chained transition pays for a budget check. The flag-safe one (jrcxz touches no
        // flag) is the default; chaining switches to the short one (sub/jbe) when the target
        // overwrites the flags before it reads them or can fault.
        site.check = const_cast<std::uint8_t*>(getCurr());
        jmp(flag_safe_check, T_NEAR);
        sub(dword[r15 + m_layout.budget], 1);
        jbe(out_of_budget_fast, T_NEAR); // 0 left, or a kick stored 0 (sub borrows)
        site.fast_jump = const_cast<std::uint8_t*>(getCurr());
        jmp(unchained, T_NEAR);
        L(flag_safe_check);
        mov(qword[r15 + m_layout.spill], rcx);
        mov(ecx, dword[r15 + m_layout.budget]);
        jrcxz(out_of_budget);
        lea(ecx, ptr[rcx - 1]);
        mov(dword[r15 + m_layout.budget], ecx);
        mov(rcx, qword[r15 + m_layout.spill]);
        site.jump = const_cast<std::uint8_t*>(getCurr());
        db(0xe9); // jmp rel32: to the next instruction until chained
        dd(0);
        L(unchained);
        store_rip(target);
        mov(r14, reinterpret_cast<std::uintptr_t>(&site));
        mov(qword[r15 + m_layout.exit_site], r14);
        jmp(m_runtime.common_exit());
        L(out_of_budget);
        mov(rcx, qword[r15 + m_layout.spill]);
        L(out_of_budget_fast);
        store_rip(target);
        mov(qword[r15 + m_layout.exit_site], 0);
        jmp(m_runtime.common_exit());
    }

    static bool indirect_target_supported(const ZydisDecodedOperand& operand) {
        if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER) return gpr_number(operand.reg.value) >= 0;
        return operand.type == ZYDIS_OPERAND_TYPE_MEMORY &&
               operand.mem.type == ZYDIS_MEMOP_TYPE_MEM;
    }

    /// The target of an indirect jmp/call (a register or a qword in memory) into r14.
    void load_branch_target(const GuestInstruction& guest, const ZydisDecodedOperand& operand,
                            Xbyak::Label& fallback) {
        if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER) {
            const int number = gpr_number(operand.reg.value);
            if (guest_in_host_register(static_cast<unsigned>(number)))
                mov(r14, host64(number));
            else
                mov(r14, home(static_cast<unsigned>(number)));
            return;
        }
        address(guest, operand, true);
        lookup(8, false, fallback);
        mov(r14, qword[r14]);
    }

    /// Continues at the guest address in r14 through a jump-table lookup: user code's exits
    /// each inline their own (its final jump predicted apart from the others'); the kernel's
    /// share the stub (a boot's code would grow by a quarter).
    void exit_indirect() {
        restore_host_flags();
        if (m_user)
            emit_jump_lookup(*this, m_layout, m_runtime.common_exit());
        else
            jmp(m_runtime.jump_stub());
    }

    void conditional_jump(int condition, Xbyak::Label& label) {
        switch (condition) {
        case 0x0:
            jo(label);
            break;
        case 0x1:
            jno(label);
            break;
        case 0x2:
            jb(label);
            break;
        case 0x3:
            jnb(label);
            break;
        case 0x4:
            jz(label);
            break;
        case 0x5:
            jnz(label);
            break;
        case 0x6:
            jbe(label);
            break;
        case 0x7:
            jnbe(label);
            break;
        case 0x8:
            js(label);
            break;
        case 0x9:
            jns(label);
            break;
        case 0xa:
            jp(label);
            break;
        case 0xb:
            jnp(label);
            break;
        case 0xc:
            jl(label);
            break;
        case 0xd:
            jnl(label);
            break;
        case 0xe:
            jle(label);
            break;
        default:
            jnle(label);
            break;
        }
    }

    bool control_flow(std::size_t k, GuestInstruction& guest) {
        const ZydisDecodedInstruction& instruction = guest.instruction;
        const ZydisDecodedOperand& operand = guest.operands[0];
        const bool relative =
            operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && operand.imm.is_relative;
        const std::uint64_t target = guest.next + static_cast<std::uint64_t>(operand.imm.value.s);
        const int condition = branch_condition(instruction.mnemonic);
        if (condition >= 0 && relative) {
            restore_host_flags();
            Xbyak::Label& other = new_label();
            if (target <= guest.linear && (target >> 12) == (m_out.linear >> 12)) {
                // A loop's back edge: laid out as the fall-through, so a running loop takes one
                // branch per iteration (the chained jump back).
                conditional_jump(condition ^ 1, other);
                exit_to(target);
                L(other);
                exit_to(guest.next);
            } else {
                conditional_jump(condition, other);
                exit_to(guest.next);
                L(other);
                exit_to(target);
            }
            return true;
        }
        switch (instruction.mnemonic) {
        case ZYDIS_MNEMONIC_JMP:
            if (relative) {
                exit_to(target);
                return true;
            }
            if (instruction.operand_width != 64 || !indirect_target_supported(operand))
                return false;
            {
                Xbyak::Label& fallback = new_label();
                Xbyak::Label& after = new_label();
                load_branch_target(guest, operand, fallback);
                exit_indirect();
                L(after); // unreachable: the interpreted jmp leaves through the helper
                jmp(m_runtime.common_exit());
                fallback_path(k, guest, fallback, after);
            }
            return true;
        case ZYDIS_MNEMONIC_CALL: {
            if (instruction.operand_width != 64 ||
                (!relative && !indirect_target_supported(operand)))
                return false;
            Xbyak::Label& fallback = new_label();
            Xbyak::Label& after = new_label();
            if (!relative) {
                load_branch_target(guest, operand, fallback);
                mov(qword[r15 + m_layout.branch_target], r14);
            }
            lea(r14, ptr[stack_pointer() - 8]);
            lookup(8, true, fallback);
            mov(r13, guest.next);
            mov(qword[r14], r13);
            adjust_stack(-8);
            if (relative) {
                exit_to(target);
            } else {
                mov(r14, qword[r15 + m_layout.branch_target]);
                exit_indirect();
            }
            L(after); // unreachable: the interpreted call leaves through the helper
            jmp(m_runtime.common_exit());
            fallback_path(k, guest, fallback, after);
            return true;
        }
        case ZYDIS_MNEMONIC_RET: {
            if (instruction.operand_width != 64) return false;
            const std::int64_t extra =
                operand.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? operand.imm.value.u : 0;
            Xbyak::Label& fallback = new_label();
            Xbyak::Label& after = new_label();
            mov(r14, stack_pointer());
            lookup(8, false, fallback);
            mov(r13, qword[r14]);
            adjust_stack(static_cast<int>(8 + extra));
            mov(r14, r13);
            exit_indirect();
            L(after);
            store_rip(guest.next); // unreachable: the interpreted ret leaves through the helper
            jmp(m_runtime.common_exit());
            fallback_path(k, guest, fallback, after);
            return true;
        }
        default:
            return false;
        }
    }

    const JitLayout& m_layout;
    const JitRuntime& m_runtime;
    Translation& m_out;
    /// The block's decoded instructions, which interpreter calls point at: the CodeBlock
    /// outlives every way into this code (see Translation).
    const DecodedOp* m_ops;
    bool m_user;
    std::uint32_t m_isa_features; ///< the guest CPU model's (isa:: bits)
    TlbHintSlots* m_hints;        ///< where access sites get their JitTlbHint, or nullptr
    bool m_vex_checked{false};    ///< vex_guard ran earlier in the block
    /// Whether the host flags hold the guest's arithmetic flags at this point of the emitted
    /// code; when not, JitContext::saved_flags does (see lookup()).
    bool m_host_flags_valid{true};
    /// Whether JitContext::saved_flags holds the guest's current flags (lahf layout).
    bool m_slot_current{false};
    /// Flags live before the instruction being emitted (see save_flags).
    std::uint32_t m_live{arithmetic_mask};
    /// Guest address of the instruction being emitted.
    std::uint64_t m_linear{0};
    std::size_t m_sites{0};
    std::deque<Xbyak::Label> m_labels;
    std::vector<std::function<void()>> m_cold; ///< miss and fallback paths, after the block
};

} // namespace

BlockTranslator::BlockTranslator(const JitLayout& layout, const JitRuntime& runtime)
    : m_layout(layout), m_runtime(runtime) {
    ZydisDecoderInit(&m_decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

bool BlockTranslator::translate(Translation& out, const CodeBlock& block, const std::uint8_t* bytes,
                                std::uint64_t linear, bool user, CodeCache& cache) {
    out.linear = linear;
    out.native_ops = out.fallback_ops = 0;
    out.sites = {};
    std::vector<GuestInstruction> instructions = analyze_block(m_decoder, block, bytes, linear);
    out.flags_dead_at_entry = flags_dead_at_entry(instructions);
    if (cache.available() < 4096) return false;
    try {
        Emitter emitter(cache.available(), cache.current(), m_layout, m_runtime, out,
                        block.ops.data(), user, m_isa_features,
                        m_hints.slots != nullptr && (user || m_kernel_hints) ? &m_hints : nullptr);
        emitter.block(instructions);
        out.code = cache.current();
        out.code_size = emitter.getSize();
        cache.commit(out.code_size);
        return true;
    } catch (const Xbyak::Error&) {
        return false; // out of room: the caller flushes the cache
    }
}

} // namespace vessel::soft
