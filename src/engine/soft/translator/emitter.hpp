// Emitter: the code generator of one translated block, whose methods are spread by concern over
// block_translator.cpp (the per-instruction dispatch, identity and SIMD instructions),
// emit_memory.cpp (memory operands and the inline TLB lookup), emit_stack.cpp (stack and string
// instructions) and emit_control_flow.cpp (block exits and branches). Internal to the translator.
#pragma once

#include "arch/x86/cpu_state.hpp"
#include "engine/soft/page_aliases.hpp"
#include "engine/soft/translator/access_groups.hpp"
#include "engine/soft/translator/block_analysis.hpp"
#include "engine/soft/translator/block_translator.hpp"
#include "engine/soft/translator/identity_plan.hpp"
#include "engine/soft/translator/instruction_classes.hpp"
#include "engine/soft/translator/loop_region.hpp"
#include "engine/soft/translator/register_loans.hpp"

#include <deque>
#include <functional>
#include <span>
#include <vector>

#include <xbyak/xbyak.h>
#include <xbyak/xbyak_util.h>

namespace vessel::soft::emit {

using namespace Xbyak::util; // rax, qword, ptr...: within this namespace only

constexpr unsigned guest_rsp = 4;

/// Emits the host code of one block. Guest GPRs 0-11 except rsp are in the host register of the
/// same number; r15 holds the CpuCore; r13 and r14 are scratch (see jit_runtime.hpp).
class Emitter : public Xbyak::CodeGenerator {
  public:
    Emitter(std::size_t room, void* at, const JitLayout& layout, const JitRuntime& runtime,
            Translation& out, const DecodedOp* ops, bool user, std::uint32_t isa_features,
            TlbHintSlots* hints, const AccessGroupPlan* groups)
        : Xbyak::CodeGenerator(room, at), m_layout(layout), m_runtime(runtime), m_out(out),
          m_ops(ops), m_user(user), m_isa_features(isa_features), m_hints(hints), m_groups(groups) {
        setDefaultJmpNEAR(true);
        if (m_groups != nullptr) m_group_state.resize(m_groups->groups.size());
    }

    void block(std::span<GuestInstruction> instructions);
    /// A loop region (loop_region.hpp): `instructions` are its blocks' one after another,
    /// `links` its branches that stay in it (the last: the back edge to the first instruction).
    /// The hoisted groups' checks come first; when one fails the code jumps to `bail` (the head
    /// block's own translation, which checks each access), with the guest's state untouched.
    void region(std::span<GuestInstruction> instructions, std::span<const RegionLink> links,
                const std::uint8_t* bail);
    /// Accesses find their host address through the vCPU's PageAliases (user code of a vCPU
    /// that has them; see aliased_lookup).
    void set_page_aliases(bool on) { m_page_aliases = on; }
    /// A region's register loans (register_loans.hpp; its instructions already name the
    /// lenders): swapped in before its hoisted checks, out wherever it leaves or interprets.
    void set_loans(std::span<const RegisterLoan> loans) { m_loans = loans; }
    /// The flags the code at a call's return address may read before it overwrites them
    /// (flags_read_on_entry; all when unknown): a ret leaves the guest's flags in the slot
    /// and the call's return point restores them only if some are.
    void set_return_point_live(std::uint32_t live) { m_return_point_live = live; }

  private:
    /// Swaps each loan's two values between the lender's host register and the borrower's
    /// memory home (the same code lends and gives back). Uses r13; touches no flag.
    void swap_loans();
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
    ///
    /// Only the live flags need their values (m_live: the others are overwritten before any
    /// read). CF alone: bit 0 of the slot's ah byte (setc's store, or lahf's), by a one-byte
    /// load (a word load of setc's byte store cannot take it from the store buffer: a stall).
    void restore_host_flags() {
        if (m_host_flags_valid) return;
        if (m_live == x86::rflags::cf) {
            movzx(r13d, byte[r15 + m_layout.saved_flags + 1]);
            bt(r13d, 0);
        } else {
            emit_restore_flags();
        }
        m_host_flags_valid = true;
    }
    void emit_restore_flags() { emit_restore_guest_flags(*this, m_layout); }
    /// Copies the host flags (the guest's) into the slot, unless it already holds them or no
    /// flag is live here. Uses r13.
    ///
    /// Dead flags are not saved: nothing on the block's path reads them before overwriting them,
    /// so the interpreter (after a TLB miss) and an exception frame may see stale values there,
    /// and whatever runs next (the handler's return to this instruction) overwrites them first.
    ///
    /// CF alone live (the common case before an inc or dec, which keep it): setc writes the
    /// slot's ah as 0 or 1, which the slot's restore reads as that CF (and the dead flags 0).
    void save_flags(std::uint32_t live) {
        if (m_slot_current || live == 0) return;
        if ((live & ~x86::rflags::cf) == 0)
            setc(byte[r15 + m_layout.saved_flags + 1]);
        else
            emit_save_guest_flags(*this, m_layout);
        m_slot_current = true;
    }
    /// Whether `guest` must run with the guest's flags in the host flags: it reads some, or it
    /// may leave some that are live after it as they were (inc and dec keep CF; a shift by a
    /// count that may be 0 keeps them all).
    static bool needs_guest_flags(const GuestInstruction& guest) {
        return guest.flags_tested != 0 ||
               (guest.flags_may_change && guest.flags_written != arithmetic_mask &&
                (guest.flags_live_out & ~guest.flags_written) != 0);
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

    /// Emits m_instructions one by one (with their groups' checks and joins), then the cold
    /// paths they queued.
    void body_and_cold_paths();
    /// Returns true when the instruction ended the block (its exits are emitted).
    bool instruction(std::size_t k, GuestInstruction& guest);

    /// Calls the interpreter for instruction k; the state is all in CpuCore around the call.
    /// The host flags must hold the guest's.
    void interpret(std::size_t k, const GuestInstruction& guest);

    /// The linear address of memory operand `operand` into r14, without touching flags.
    void address(const GuestInstruction& guest, const ZydisDecodedOperand& operand,
                 bool with_segment);

    /// Turns the linear address in r14 into a host address through the JIT TLB. The miss path
    /// asks the helper and, when it gives no address, jumps to `fallback` with the guest state
    /// untouched.
    ///
    /// The lookup's compare clobbers the host flags. The guest's are first saved in a slot
    /// (unless it already holds them), which stays their home until an instruction writes
    /// flags or one reads them (restore_host_flags): the miss path hands them to the
    /// interpreter exactly, so a fault shows the flags as they were.
    ///
    /// `held`: the host address is used after another lookup (an access group's base, a string
    /// instruction's first operand), or must be of one mapping with another access of the
    /// instruction (rep movs, whose overlap the host judges by address). It is then of RAM's own
    /// mapping, never a page alias, which the other lookup's fill may move to another page.
    ///
    /// The access itself goes through looked_up(), which knows which kind of address r14 holds.
    void lookup(unsigned size, bool write, Xbyak::Label& fallback, bool held = false);
    /// The memory operand of the access the last lookup checked, to be used in the very next
    /// instruction: after an aliased lookup, gs:[r14d] (this emits the gs prefix: the vCPU's
    /// page alias window is the thread's gs base, and r14 holds the guest linear address, whose
    /// low 32 bits are its position there); else [r14], a host address, or [r14 + offset] for
    /// a member of an access group (r14: the group's base host address).
    Xbyak::RegExp looked_up();
    /// r14 = a linear address, r13 = its entry's offset in a table: a hit of the entry in
    /// `table` leaves its host address in r14 and jumps to `resume`; a miss falls through with
    /// r14 the linear address again. Flags clobbered.
    void try_table(int table, unsigned size, const std::uint8_t* resume);
    /// lookup() through the page aliases: r14 stays the linear address (see looked_up).
    void aliased_lookup(unsigned size, bool write, Xbyak::Label& fallback, int table);

    /// Before instruction k: the checks of the access groups it leads (access_groups.hpp).
    void begin_groups(std::size_t k);
    /// The check of group `index` (r14 = the host address of its base register's value, kept
    /// in its JitContext::group_host slot); a miss the helper cannot fill goes to `fallback`.
    void check_group(std::size_t index, Xbyak::Label& fallback);
    /// After instruction k: the join of every group it ends, and that group's fallback (its
    /// instructions again, each access with its own lookup) queued with the cold paths.
    void end_groups(std::size_t k, bool block_ended);
    /// r14 = the host address of instruction k's access (through guest GPR `base` plus
    /// `displacement`, `size` bytes) from its group's checked page, when the access belongs to
    /// a group whose check ran and nothing since went to the interpreter. Touches no flags.
    /// A register-based group's member (register_based) addresses gs:[base32 + displacement]
    /// through its base's own host register (m_member_base, m_group_offset; r14 untouched), or,
    /// without `register_base` (the caller needs the address in r14), r14 = that address.
    /// A table lookup's member (AccessGroup::indexed) also names its index register and scale
    /// (m_member_index, m_member_scale): it is served only through its base's host register.
    bool grouped_access(std::size_t k, int base, std::int64_t displacement, unsigned size,
                        bool write, bool register_base = true, int index_register = -1,
                        unsigned scale = 0);
    /// With page aliases, a group whose base register lives in a host register needs no slot:
    /// its members address gs:[base32 + displacement] (its slot and r14 serve the others).
    bool register_based(const AccessGroup& group) const {
        return m_page_aliases && guest_in_host_register(static_cast<unsigned>(group.base));
    }
    /// grouped_access for an explicit memory operand.
    bool grouped_operand(std::size_t k, const GuestInstruction& guest,
                         const ZydisDecodedOperand& operand, bool write, bool register_base);
    /// The interpreter ran an instruction on the main path: no group is trusted after it.
    void drop_groups() {
        for (GroupState& state : m_group_state)
            state.active = false;
    }

    /// A hint slot's offset from r15 for a new access site, or -1 for a hashed site.
    int allocate_hint();

    /// A hinted site's miss path (r14 = the linear address): takes the hashed entry and makes it
    /// the guess; falls through to the fill when that entry misses too. A miss to a page not
    /// next to the guessed one counts against the site, which is patched to the hashed index
    /// when it has none left (and then counts no more).
    void hint_miss(int hint, int table, unsigned size, const std::uint8_t* index,
                   const std::uint8_t* resume);

    /// A jump whose target comes later in the code: a rel32 to patch with bind(). Cheaper than
    /// an Xbyak::Label (whose manager keeps hash maps), of which a block made a dozen per
    /// memory access: most of its translation time. Backward targets are plain code pointers.
    struct Forward {
        std::size_t at; ///< offset of the rel32 in the code
    };
    /// r14 = a linear address: checks it against its entry of `table` (a user table of page
    /// alias way); a miss takes the returned jump. r14 unchanged; flags and r13 clobbered.
    Forward aliased_check(int table, unsigned size);
    static constexpr std::uint8_t condition_above = 0x7, condition_below_or_equal = 0x6,
                                  condition_always = 0xff;
    Forward jump_forward(std::uint8_t condition);
    /// Points `jump` at the current position.
    void bind(Forward jump);

    /// The out-of-line interpreter call for instruction k after a TLB miss the helper could not
    /// serve; continues at `after`.
    void fallback_path(std::size_t k, const GuestInstruction& guest, Xbyak::Label& fallback,
                       const std::uint8_t* after);
    /// The same, continuing at a label (which may be defined later).
    void fallback_path(std::size_t k, const GuestInstruction& guest, Xbyak::Label& fallback,
                       Xbyak::Label& after);
    /// Both fallback paths' body: `fallback`, then instruction k through the interpreter with
    /// the flags in the host and the slot.
    void interpret_fallback(std::size_t k, const GuestInstruction& guest, Xbyak::Label& fallback);

    Xbyak::Address xmm_home(int guest) { return xword[r15 + m_layout.xmm + 16 * guest]; }
    /// Bits 128-255 of guest ymm`guest`.
    Xbyak::Address upper_home(int guest) { return xword[r15 + m_layout.ymm_upper + 16 * guest]; }

    /// Before the block's first VEX instruction: the interpreter takes it (and raises #NM or
    /// #UD) unless CR0.TS is clear, CR4.OSXSAVE is set and XCR0 enables SSE and YMM state
    /// (Intel SDM Vol. 2, 2.8). Nothing later in the block can change them: writes to CR0, CR4
    /// and XCR0 end translated code.
    void vex_guard(Xbyak::Label& fallback);

    /// fnstcw m16: the x87 control word stored, unless CR0.EM or CR0.TS make it #NM (then the
    /// interpreter raises it). Compilers emit it around every float-to-integer conversion.
    bool store_control_word(std::size_t k, const GuestInstruction& guest);

    /// vzeroupper: zeroes bits 128-255 of every guest YMM register.
    void zero_upper_halves(std::size_t k, const GuestInstruction& guest);

    /// div traps on a zero divisor or a quotient that does not fit: both are "high half of the
    /// dividend >= divisor" (unsigned). Such a division goes to the interpreter, which raises
    /// #DE as the guest expects, instead of faulting on the host.
    void division_guard(const GuestInstruction& guest, const IdentityPlan& plan,
                        Xbyak::Label& fallback);

    /// Before a floating-point instruction: the interpreter takes it unless the guest masks
    /// every SSE exception (no #XM can come of it); else the host runs it under the guest's
    /// rounding, DAZ and FTZ with the exception flags cleared, to collect what it raises.
    void mxcsr_enter(Xbyak::Label& fallback);
    /// After it: the host's MXCSR back, the raised exception flags added to the guest's (the
    /// guest's arithmetic flags are in the slot by then).
    void mxcsr_leave();
    static constexpr std::uint32_t mxcsr_flags = 0x3f;   ///< IE DE ZE OE UE PE (SDM Vol. 1, 10.2.3)
    static constexpr std::uint32_t mxcsr_masks = 0x1f80; ///< their mask bits

    bool identity(std::size_t k, GuestInstruction& guest);

    bool load_effective_address(const GuestInstruction& guest);

    /// rsp += delta, without touching flags.
    void adjust_stack(int delta) { lea(stack_pointer(), ptr[stack_pointer() + delta]); }
    /// A grouped push or pop (in a run of them through one register-based group) leaves its
    /// move of rsp pending (m_stack_pending) rather than adjust_stack: the next member's address
    /// adds it, and flush_stack applies the run's sum once, before any other instruction, a
    /// group's check or join, and the block's end. So host r10 = guest rsp - m_stack_pending.
    void move_stack(int delta) {
        if (m_defer_stack)
            m_stack_pending += delta;
        else
            adjust_stack(delta);
    }
    void flush_stack() {
        if (m_stack_pending != 0) adjust_stack(m_stack_pending);
        m_stack_pending = 0;
    }
    /// Whether instruction k may leave rsp's move pending (see move_stack), after the checks
    /// before it.
    bool defers_stack(std::size_t k) const;
    /// Whether a group's check precedes instruction k.
    bool checks_at(std::size_t k) const;

    /// mov r32/r64, Sreg: the selector, zero-extended (Intel SDM Vol. 2, MOV). Kernels read
    /// cs and ss this way before every iret to self (sync_core).
    bool read_segment_selector(const GuestInstruction& guest);

    /// pushfq (64-bit mode, where it is never privileged): the guest's arithmetic flags from the
    /// host's, the rest (IF, DF, IOPL, AC, ID) from CpuCore::rflags, RF and VM cleared in the
    /// image (Intel SDM Vol. 2, PUSHF). Kernels run it in every local_irq_save.
    bool push_flags(std::size_t k, const GuestInstruction& guest);

    bool push_instruction(std::size_t k, GuestInstruction& guest);

    /// rep movs / rep stos with 64-bit addresses whose source and destination each lie in one
    /// page: the host's own rep movs/stos on the host addresses (the same element order, so
    /// overlapping moves come out as the guest's). Anything else (DF set, a run crossing a
    /// page, MMIO, a fault, a code page the helper will not hand out) goes to the interpreter.
    bool string_instruction(std::size_t k, GuestInstruction& guest);

    bool pop_instruction(std::size_t k, GuestInstruction& guest);

    /// leave (64-bit): rsp = rbp, then pop rbp. The load comes first, so a fault leaves both
    /// as they were for the interpreter.
    bool leave_instruction(std::size_t k, const GuestInstruction& guest);

    /// Leaves for guest address `target`: chainable when it is on the block's page, else
    /// through the jump table.
    /// `branch`: the block's `jcc rel32` whose target is this exit (see ChainSite::branch).
    void exit_to(std::uint64_t target, const std::uint8_t* branch = nullptr);
    /// Takes one from the budget word without touching the flags (rcx spilled around jrcxz);
    /// jumps to `out_of_budget`, with rcx still in JitContext's spill slot, when none was left
    /// (or a kick stored 0).
    void flag_safe_budget_check(Xbyak::Label& out_of_budget);

    static bool indirect_target_supported(const ZydisDecodedOperand& operand) {
        if (operand.type == ZYDIS_OPERAND_TYPE_REGISTER) return gpr_number(operand.reg.value) >= 0;
        return operand.type == ZYDIS_OPERAND_TYPE_MEMORY &&
               operand.mem.type == ZYDIS_MEMOP_TYPE_MEM;
    }

    /// The target of an indirect jmp/call (a register or a qword in memory) into r14.
    void load_branch_target(const GuestInstruction& guest, const ZydisDecodedOperand& operand,
                            Xbyak::Label& fallback);

    /// Continues at the guest address in r14 through a jump-table lookup: user code's exits
    /// each inline their own (its final jump predicted apart from the others'); the kernel's
    /// share the stub (a boot's code would grow by a quarter).
    void exit_indirect();

    void conditional_jump(int condition, Xbyak::Label& label);

    bool control_flow(std::size_t k, GuestInstruction& guest);

    /// The link of a loop region at instruction k, or nullptr.
    const RegionLink* region_link(std::size_t k) const {
        for (const RegionLink& link : m_links)
            if (link.index == k) return &link;
        return nullptr;
    }
    /// A region's branch at instruction k: its way out of the region leaves (a side exit, out
    /// of line), its way in goes on; the last link loops back (loop_back).
    void region_branch(const GuestInstruction& guest, const RegionLink& link);
    /// The loop's back edge: a budget check (as on every backward chained edge), then to the
    /// loop's body, past the hoisted checks.
    void loop_back();
    /// Whether the loop's body writes every arithmetic flag before it reads one or possibly
    /// faults (flags_dead_at_entry, knowing which accesses were checked before the loop).
    bool loop_flags_dead() const;

    /// bt/bts/btr/btc on memory with the bit offset in a register (emit_bit_string.cpp): the
    /// unit the offset selects, through the JIT TLB, then the host's own instruction on it with
    /// the offset reduced to the unit (lock kept). Counts itself as native when it emits.
    bool bit_string(std::size_t k, const GuestInstruction& guest);

    const JitLayout& m_layout;
    const JitRuntime& m_runtime;
    Translation& m_out;
    /// The block's decoded instructions, which interpreter calls point at: the CodeBlock
    /// outlives every way into this code (see Translation).
    const DecodedOp* m_ops;
    bool m_user;
    std::uint32_t m_isa_features; ///< the guest CPU model's (isa:: bits)
    TlbHintSlots* m_hints;        ///< where access sites get their JitTlbHint, or nullptr
    bool m_page_aliases{false};   ///< see set_page_aliases
    bool m_aliased_access{false}; ///< the last lookup was aliased (see looked_up)
    /// The grouped access's offset from the host address in r14 (see looked_up).
    std::int32_t m_group_offset{0};
    /// The host register a grouped access addresses through: r14 (the slot's value), or the
    /// host register of its base (grouped_access with register_base).
    int m_member_base{host_address_scratch};
    /// A table lookup's index: its host register (-1: none) and scale (see grouped_access).
    int m_member_index{-1};
    std::int32_t m_stack_pending{0}; ///< see move_stack
    bool m_defer_stack{false};       ///< the instruction being emitted may (defers_stack)
    unsigned m_member_scale{0};
    /// The last grouped access took r14 from its group's slot (so r14 holds that slot's value).
    bool m_member_from_slot{false};
    /// Where r14 is known to hold the host address of group slot m_r14_group_slot: after
    /// begin_groups' check, and after instructions that kept it (identity()); a member right
    /// there needs no reload.
    const std::uint8_t* m_r14_group_end{nullptr};
    unsigned m_r14_group_slot{0};
    bool m_vex_checked{false}; ///< vex_guard ran earlier in the block
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
    /// Miss and fallback paths, emitted after the block (a deque: a group's fallback adds more
    /// while they are emitted).
    std::deque<std::function<void()>> m_cold;
    std::span<GuestInstruction> m_instructions;
    const AccessGroupPlan* m_groups; ///< the block's access groups, or nullptr for none
    bool m_groups_enabled{true};     ///< false while a group's fallback is emitted
    /// Emission state of a group of the plan.
    struct GroupState {
        bool active{false};  ///< its check ran and no interpreter call came since
        bool checked{false}; ///< its check was emitted (it has a fallback and a join)
        bool joined{false};  ///< its join and fallback were emitted
        Xbyak::Label* fallback{nullptr};
        const std::uint8_t* join{nullptr}; ///< where the main path goes on after the group
        bool host_flags_valid{false};      ///< m_host_flags_valid where the check failed
        bool slot_current{false};          ///< m_slot_current there
        bool vex_checked{false};           ///< m_vex_checked there
    };
    std::vector<GroupState> m_group_state;
    std::span<const RegionLink> m_links;                ///< a loop region's (empty for a block)
    std::span<const RegisterLoan> m_loans;              ///< a loop region's (set_loans)
    std::uint32_t m_return_point_live{arithmetic_mask}; ///< see set_return_point_live
    Xbyak::Label* m_loop_body{nullptr};                 ///< where a region's back edge goes
};

} // namespace vessel::soft::emit
