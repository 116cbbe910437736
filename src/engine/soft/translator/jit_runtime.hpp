// JitRuntime: where translated code finds the vCPU's state (field offsets from the reserved
// context register), the shared entry and exit code, and the helpers generated code calls.
#pragma once

#include <cstdint>

#include "engine/soft/cpu_core.hpp"

namespace Xbyak {
class CodeGenerator;
}
#include "engine/soft/translator/code_cache.hpp"

namespace vessel::soft {

/// Byte offsets of CpuCore fields from the CpuCore address (held in host r15 by translated
/// code). Measured on a live object, so CpuCore need not be standard-layout.
struct JitLayout {
    std::int32_t gpr{0};               ///< CpuCore::gpr[0]
    std::int32_t rip{0};               ///< CpuCore::rip
    std::int32_t segment_base{0};      ///< CpuCore::segment_base[0]
    std::int32_t xmm{0};               ///< CpuCore::fpu.xmm[0]
    std::int32_t mxcsr{0};             ///< CpuCore::fpu.mxcsr
    std::int32_t mxcsr_scratch{0};     ///< JitContext::mxcsr_scratch
    std::int32_t host_mxcsr{0};        ///< JitContext::host_mxcsr
    std::int32_t flags{0};             ///< JitContext::flags
    std::int32_t saved_flags{0};       ///< JitContext::saved_flags
    std::int32_t spill{0};             ///< JitContext::spill
    std::int32_t entry_rsp{0};         ///< JitContext::entry_rsp
    std::int32_t frame_limit{0};       ///< JitContext::frame_limit
    std::int32_t budget{0};            ///< JitContext::budget
    std::int32_t exit_site{0};         ///< JitContext::exit_site
    std::int32_t tlb{0};               ///< JitContext::tlb.entries[0][0][0]
    std::int32_t tlb_hints{0};         ///< JitContext::tlb_hints.slots[0]
    std::int32_t jumps{0};             ///< JitContext::jumps.entries[0]
    std::int32_t jump_stamp{0};        ///< JitContext::jump_stamp
    std::int32_t global_jump_stamp{0}; ///< JitContext::global_jump_stamp
    std::int32_t context{0};           ///< JitContext::context
    std::int32_t branch_target{0};     ///< JitContext::branch_target
    std::int32_t string_next{0};       ///< JitContext::string_next[0]
    std::int32_t rflags{0};            ///< CpuCore::rflags (DF; arithmetic flags are elsewhere)
    std::int32_t ymm_upper{0};         ///< CpuCore::fpu.ymm_upper[0]
    std::int32_t cr0{0};               ///< CpuCore::cr0
    std::int32_t cr4{0};               ///< CpuCore::cr4
    std::int32_t xcr0{0};              ///< CpuCore::xcr0
    std::int32_t fpu_control{0};       ///< CpuCore::fpu.control (the x87 control word)
    std::int32_t segment_selector{0};  ///< CpuCore::segments[0].selector
    std::int32_t segment_stride{0};    ///< sizeof(x86::SegmentRegister)
    std::int32_t user_window_count{0}; ///< CpuCore::user_window_count() (SMAP windows)
    std::int32_t group_host{0};        ///< JitContext::group_host[0]
    std::int32_t alias_pins{0};        ///< JitContext::alias_pins[0]

    static JitLayout of(const CpuCore& cpu);
    std::int32_t tlb_table(bool user, bool write) const {
        return tlb +
               static_cast<std::int32_t>((user * 2 + write) * JitTlb::size * sizeof(JitTlbEntry));
    }
    /// The user table of PageAliases' second way.
    std::int32_t second_way_table(bool write) const {
        return tlb + static_cast<std::int32_t>((JitTlb::user_second_way * 2 + write) *
                                               JitTlb::size * sizeof(JitTlbEntry));
    }
};

/// How translated code returned to the dispatcher.
enum class JitExit : std::uint32_t {
    Translated = 0, ///< guest registers stored, arithmetic flags in JitContext::flags
    Helper = 1,     ///< a helper finished the guest state in CpuCore (flags in rflags)
};

/// Helper results seen by generated code.
enum class HelperResult : std::uint32_t { Continue = 0, Exit = 1 };

/// Fills the JIT TLB for a translated access; `request` is size | write << 8 | user << 9 |
/// own_mapping << 10 (see CpuCore::jit_host_address).
/// Returns the host address, or 0 when the instruction must be interpreted instead.
std::uint8_t* jit_fill_helper(CpuCore* cpu, std::uint64_t address, std::uint32_t request);
/// Interprets one instruction on behalf of translated code (cpu->rip holds its address). Never
/// throws: an exception is kept in JitContext::deferred and Exit returned.
std::uint32_t jit_interpret_helper(CpuCore* cpu, const DecodedOp* op);

/// The entry and exit code shared by all blocks of one code cache (emitted at its start).
class JitRuntime {
  public:
    using EnterFunction = JitExit (*)(CpuCore* cpu, const std::uint8_t* code);

    /// Emits the entry and exit code at the start of `cache`.
    static JitRuntime emit(CodeCache& cache, const JitLayout& layout);

    JitExit enter(CpuCore& cpu, const std::uint8_t* code) const { return m_enter(&cpu, code); }
    const std::uint8_t* common_exit() const { return m_common_exit; }
    const std::uint8_t* helper_exit() const { return m_helper_exit; }
    /// Called (near call) by translated code on a TLB miss: r14 = linear address, r13d = fill
    /// request; returns the host address or 0 in r14. Keeps every guest register.
    const std::uint8_t* tlb_miss_stub() const { return m_tlb_miss_stub; }
    /// Called by translated code to interpret one instruction: r13 = its DecodedOp, CpuCore::rip
    /// and JitContext::flags set. Returns with the guest registers and flags reloaded, or leaves
    /// translated code through the helper exit.
    const std::uint8_t* interpret_stub() const { return m_interpret_stub; }
    /// Jumped to by translated code to continue at the guest address in r14 (host flags hold
    /// the guest's): straight into its translation when the jump table has a valid entry and
    /// budget is left, else out through the common exit.
    const std::uint8_t* jump_stub() const { return m_jump_stub; }
    /// jump_stub() for translated code whose guest flags are in JitContext::saved_flags (the
    /// host flags hold nothing of the guest's).
    const std::uint8_t* jump_stub_flags_saved() const { return m_jump_stub_flags_saved; }
    /// Called (near call) by translated code with r13 = the start of a hinted access site's
    /// index code (see JitTlbHint): rewrites it to the hashed index (emit_tlb_index). Keeps
    /// every register but the host flags.
    const std::uint8_t* unhint_stub() const { return m_unhint_stub; }
    /// Bytes of emit_tlb_index's code: a hinted site reserves this many.
    std::size_t tlb_index_size() const { return m_tlb_index_size; }
    std::size_t size() const { return m_size; }

  private:
    EnterFunction m_enter{nullptr};
    const std::uint8_t* m_common_exit{nullptr};
    const std::uint8_t* m_helper_exit{nullptr};
    const std::uint8_t* m_tlb_miss_stub{nullptr};
    const std::uint8_t* m_interpret_stub{nullptr};
    const std::uint8_t* m_jump_stub{nullptr};
    const std::uint8_t* m_jump_stub_flags_saved{nullptr};
    const std::uint8_t* m_unhint_stub{nullptr};
    std::size_t m_tlb_index_size{0};
    std::size_t m_size{0};
};

/// The guest's arithmetic flags into JitContext::saved_flags (lahf layout: ah = SF ZF AF PF CF,
/// al = OF) and back, with lahf/seto and add/sahf instead of the slow, microcoded popf. Both keep
/// every register but host r13.
void emit_save_guest_flags(Xbyak::CodeGenerator& code, const JitLayout& layout);
/// Continues at guest address r14 (host flags hold the guest's): into its translation when the
/// jump table has a valid entry for the current context and budget is left, else out through
/// `common_exit` with CpuCore::rip set. Keeps the guest's registers and flags; uses r13 and r14.
/// The jump stub is one copy; an indirect exit inlines its own, so the host predicts each
/// indirect exit's final jump apart from the others'. With `flags_saved`, the guest's flags
/// are in JitContext::saved_flags already, not in the host flags.
void emit_jump_lookup(Xbyak::CodeGenerator& code, const JitLayout& layout,
                      const std::uint8_t* common_exit, bool flags_saved = false);
/// r13d = the byte offset of linear address r14's entry in a JIT TLB table
/// (((address >> 12) % JitTlb::size) << 4); clobbers the host flags without BMI2.
void emit_tlb_index(Xbyak::CodeGenerator& code);
void emit_restore_guest_flags(Xbyak::CodeGenerator& code, const JitLayout& layout);

/// The host register holding guest GPR `guest` while translated code runs, or -1 for the four
/// kept in CpuCore::gpr (r10, r13, r14, r15). Guest rsp, the most used of them in compiled code
/// (every push, pop, call, return and stack slot), lives in host r10; the other guest registers
/// in the host register of the same number. Host r13 and r14 are scratch, r15 holds the
/// CpuCore, and host rsp is the host's stack.
constexpr int host_register_of(unsigned guest) {
    if (guest == 4) return 10;
    return guest < 13 && guest != 10 ? static_cast<int>(guest) : -1;
}
constexpr bool guest_in_host_register(unsigned guest) {
    return host_register_of(guest) >= 0;
}
/// Whether guest GPR `guest` runs in the host register of the same number (so an instruction
/// using only such registers runs with its own encoding).
constexpr bool guest_in_same_register(unsigned guest) {
    return host_register_of(guest) == static_cast<int>(guest);
}
constexpr unsigned host_scratch = 13, host_address_scratch = 14;

} // namespace vessel::soft
