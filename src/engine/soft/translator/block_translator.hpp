// BlockTranslator: one decoded 64-bit guest block -> host x86-64 code in the code cache.
#pragma once

#include <Zydis/Zydis.h>

#include "engine/soft/block_cache.hpp"
#include "engine/soft/translator/access_groups.hpp"
#include "engine/soft/translator/block_analysis.hpp"
#include "engine/soft/translator/code_cache.hpp"
#include "engine/soft/translator/jit_runtime.hpp"
#include "engine/soft/translator/loop_region.hpp"
#include "engine/soft/translator/translation.hpp"

namespace vessel::soft {

/// Identity translation (docs/SOFT_CPU.md, "translation tier"): guest integer instructions run as
/// the same host instruction on host registers holding the guest's values, memory operands are
/// rewritten to a host address found through an inline TLB lookup, direct branches become
/// chainable exits, and everything else calls the interpreter for that one instruction.
/// The vCPU's JitTlbHint slots and the next one to hand out.
struct TlbHintSlots {
    JitTlbHint* slots{nullptr};
    unsigned next{0};
};

class BlockTranslator {
  public:
    BlockTranslator(const JitLayout& layout, const JitRuntime& runtime);

    /// Fills `out` (code, exits, op copies) for `block`, whose bytes start at `bytes` and which
    /// runs at guest linear `linear` with privilege `user`. Returns false when the code cache
    /// has no room (the caller flushes it and tries again).
    bool translate(Translation& out, const CodeBlock& block, const std::uint8_t* bytes,
                   std::uint64_t linear, bool user, CodeCache& cache);

    enum class RegionResult { translated, unsuitable, no_room };
    /// Fills `out` for the loop region of `blocks` (LoopRegion's, the head first), all on the
    /// page whose bytes start at `page`, whose hoisted checks give the loop to `bail` (the head's
    /// own translation) when they fail. Unsuitable: a block does not end in a branch to the next
    /// one, or the region would call the interpreter on its main path while a check is hoisted
    /// (which the interpreter could void). Only where access groups are on (user code, or kernel
    /// code with kernel groups): the hoisted checks are what a region is for.
    RegionResult translate_region(Translation& out, std::span<const RegionBlock> blocks,
                                  const std::uint8_t* page, bool user, CodeCache& cache,
                                  const std::uint8_t* bail);
    /// Whether code at this privilege gets access groups, and so loop regions (whose hoisted
    /// group checks are what they are for).
    bool makes_groups(bool user) const {
        return m_access_groups && (user || m_kernel_access_groups);
    }
    bool makes_regions(bool user) const { return makes_groups(user); }

    /// The guest CPU model's extensions (isa:: bits): tzcnt/lzcnt run as themselves only where
    /// the model has them (else f3 0f bc/bd are bsf/bsr).
    void set_isa_features(std::uint32_t features) { m_isa_features = features; }
    /// Gives access sites guessed TLB entries (JitTlbHint) from `slots`
    /// (JitContext::tlb_hints of the vCPU the code runs on); without, every site hashes.
    void set_tlb_hints(JitTlbHint* slots) { m_hints.slots = slots; }
    /// Only user code guesses by default: a kernel's code runs a few times each (a boot) and
    /// chases pointers, so a guess seldom paid for its miss path, whose size made a boot's code
    /// overflow the code cache. (Tests of the mechanism, which run at CPL 0, turn it on.)
    void set_kernel_tlb_hints(bool on) { m_kernel_hints = on; }
    /// Whether runs of accesses through one base register share a TLB check (access_groups.hpp;
    /// on by default; off to compare). Like guesses, only in user code unless kernel groups are
    /// on too: a group's fallback doubles its code's translation, which a boot's kernel code,
    /// run a few times each, does not earn back. (Tests of the mechanism turn them on.)
    void set_access_groups(bool on) { m_access_groups = on; }
    void set_kernel_access_groups(bool on) { m_kernel_access_groups = on; }
    /// Whether user code reaches RAM through the vCPU's PageAliases (CpuCore::page_aliases)
    /// instead of the host page in the JIT TLB entry.
    void set_page_aliases(bool on) { m_page_aliases = on; }
    /// Whether loop regions lend unused host registers to memory-kept guest GPRs
    /// (register_loans.hpp; on by default; off to compare).
    void set_register_loans(bool on) { m_register_loans = on; }

  private:
    /// The JitTlbHint slots access sites of code at this privilege guess from, or nullptr.
    TlbHintSlots* hints_for(bool user) {
        return m_hints.slots != nullptr && (user ? !m_page_aliases : m_kernel_hints) ? &m_hints
                                                                                     : nullptr;
    }

    /// The flags the block's successors may read (flags_read_on_entry), when it ends in a
    /// direct jump, branch or call within its page (`page`: that page's bytes, or nullptr); else
    /// all.
    std::uint32_t live_after(const CodeBlock& block, std::uint64_t linear,
                             const std::uint8_t* page);

    /// The flags the code after a block's final call may read first (flags_read_on_entry),
    /// when it lies in the block's page; else all.
    std::uint32_t return_point_live(std::span<const GuestInstruction> instructions,
                                    const std::uint8_t* page);

    JitLayout m_layout;
    std::uint32_t m_isa_features{0};
    TlbHintSlots m_hints;
    bool m_kernel_hints{false};
    bool m_access_groups{true};
    bool m_kernel_access_groups{false};
    bool m_page_aliases{false};
    bool m_register_loans{true};
    AccessGroupPlan m_groups; ///< the block's, kept from block to block
    const JitRuntime& m_runtime;
    /// analyze_block's output, kept from block to block (see there).
    std::vector<GuestInstruction> m_instructions;
    std::vector<GuestInstruction> m_region_instructions; ///< a region's, block after block
    std::vector<RegionLink> m_links;
    ZydisDecoder m_decoder;
};

} // namespace vessel::soft
