// Translator: the translation tier's dispatcher. Finds or makes host code for the block at rip,
// runs it, chains direct exits, and leaves cold or untranslatable code to the interpreter.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/soft/block_executor.hpp"
#include "engine/soft/interpreter.hpp"
#include "engine/soft/translator/block_translator.hpp"
#include "engine/soft/translator/code_cache.hpp"
#include "engine/soft/translator/jit_runtime.hpp"
#include "engine/soft/translator/live_jump_entries.hpp"

namespace vessel::soft {

class Translator final : public BlockExecutor {
  public:
    struct Options {
        std::size_t cache_size{CodeCache::default_size};
        /// Interpreted dispatches of a block before it is translated.
        std::uint32_t hot_threshold{2};
        /// Chained block transitions translated code may make before returning to the run loop
        /// (which then polls the timers): 8192 transitions of a tight loop take about 0.1 ms.
        std::uint32_t chained_budget{8192};
        /// User code reaches RAM through page aliases (PageAliases) where guest RAM is a file.
        bool page_aliases{true};
        /// Hot loops of one page are translated as one loop region (loop_region.hpp).
        bool loop_regions{true};
    };
    struct Stats {
        std::uint64_t blocks_translated{0};
        std::uint64_t native_ops{0};
        std::uint64_t fallback_ops{0};
        std::uint64_t access_groups{0};    ///< TLB checks shared by accesses (access_groups.hpp)
        std::uint64_t grouped_accesses{0}; ///< the accesses those checks serve
        std::uint64_t cache_flushes{0};
        std::uint64_t chain_patches{0};
        std::uint64_t translated_dispatches{0};
        std::uint64_t interpreted_dispatches{0};
        std::uint64_t translation_nanoseconds{0};
        std::uint64_t exits_unchained{0};      ///< direct exits not yet chained
        std::uint64_t exits_budget{0};         ///< budget ran out (or a kick)
        std::uint64_t exits_lookup{0};         ///< jump-table miss
        std::uint64_t exits_helper{0};         ///< an interpreted instruction needs the run loop
        std::uint64_t jump_stamp_renewals{0};  ///< every jump-table entry voided at once
        std::uint64_t jump_entries_dropped{0}; ///< scans of LiveJumpEntries for stale ones
        std::uint64_t loop_regions{0};         ///< regions made (loop_region.hpp)
        std::uint64_t hoisted_groups{0};       ///< access checks they run before their loop
        std::uint64_t register_loans{0};       ///< host registers they lend (register_loans.hpp)
    };

    static Result<std::unique_ptr<Translator>> create(CpuCore& cpu, Interpreter& interpreter,
                                                      Options options);
    static Result<std::unique_ptr<Translator>> create(CpuCore& cpu, Interpreter& interpreter) {
        return create(cpu, interpreter, Options{});
    }

    ~Translator() override;
    Translator(const Translator&) = delete;
    Translator& operator=(const Translator&) = delete;

    void execute(unsigned& budget) override;

    const Stats& stats() const { return m_stats; }
    /// Access sites whose TLB hint kept missing and that now hash (JitTlbHint), of those
    /// holding a hint slot.
    unsigned unhinted_sites() const;
    /// Lets kernel code's access sites guess their TLB entry too (BlockTranslator).
    void set_kernel_tlb_hints(bool on) { m_translator.set_kernel_tlb_hints(on); }
    /// Lets kernel code's accesses share TLB checks too (BlockTranslator).
    void set_kernel_access_groups(bool on) { m_translator.set_kernel_access_groups(on); }
    /// Whether hot loops become loop regions (on by default; off to compare).
    void set_loop_regions(bool on) { m_options.loop_regions = on; }
    std::size_t code_bytes() const { return m_cache.used(); }
    std::size_t metadata_bytes() const;
    std::string describe() const;
    /// Drops every translation (the code cache starts over).
    void flush();
    /// Drops every translation and gives the code cache's pages and the bookkeeping back to
    /// the host (an idle vCPU's memory).
    void release_memory();

  private:
    Translator(CpuCore& cpu, Interpreter& interpreter, Options options, CodeCache cache);

    const Translation* translation_for(CodeBlock& block, std::uint64_t linear);
    /// Patches the exit translated code last left through to jump straight to `target`.
    void chain(const Translation& target);
    /// Names a new translation for perf (VESSEL_PERF_MAP=1) and dumps its code to
    /// /tmp/jit-ADDRESS{suffix}.bin when VESSEL_JIT_DUMP lists its address.
    void publish(const Translation& translation, const char* suffix);
    /// Points chain site `site` at `target`'s code.
    static void patch(ChainSite& site, const Translation& target);
    /// The loop region headed by `block` (translated as `translation`, at rip), made and
    /// chained to in place of the block's own translation; or `translation` when there is none.
    const Translation* loop_region(CodeBlock& block, const Translation& translation);
    /// Renews the jump table's stamp when a mapping or the mode changed, or drops the entries
    /// that a store to code or a single-page TLB flush made stale.
    void refresh_jump_stamp();
    /// Renews both stamps: no jump-table entry stays valid.
    void renew_jump_stamps();
    /// Fills the jump table's entry for rip with `translation` of `block`.
    void fill_jump_entry(const CodeBlock& block, const Translation& translation);
    /// A page became code: drops the direct-store TLB entries, treating code pages they reach
    /// as written.
    void drop_direct_stores();
    /// Forgets every translation (flush() without counting it as a full cache).
    void drop_translations();
    /// Makes the thread's gs base this vCPU's page alias window, where translated user code
    /// reaches RAM; without it (the host refused) the vCPU drops its aliases and its
    /// translations.
    void point_gs_at_aliases();

    CpuCore& m_cpu;
    Interpreter& m_interpreter;
    Options m_options;
    CodeCache m_cache;
    JitLayout m_layout;
    JitRuntime m_runtime;
    BlockTranslator m_translator;
    std::vector<std::unique_ptr<Translation>> m_translations;
    std::uint64_t m_epoch{1}; ///< CodeBlock::translation_epoch of live translations
    std::uint64_t m_code_epoch{0};
    /// The CPU model's extensions the translations were made for (a restore may change them).
    std::uint32_t m_isa_features{~std::uint32_t{0}};
    ChainSite* m_pending_site{nullptr};
    /// Where translated code last ran out of budget: a loop's head, when a back edge took it.
    std::uint64_t m_loop_head{~std::uint64_t{0}};
    /// What the jump table's entries were made under; a change renews JitContext::jump_stamp.
    std::uint64_t m_stamp_fetch_epoch{~std::uint64_t{0}};
    std::uint64_t m_stamp_global_fetch_epoch{~std::uint64_t{0}};
    std::uint64_t m_stamp_code_generation{~std::uint64_t{0}};
    std::uint64_t m_stamp_page_flushes{0}; ///< JitTlb::page_flushes()
    std::uint64_t m_stamp_full_flushes{0}; ///< JitTlb::full_flushes()
    LiveJumpEntries m_live_jumps;
    Stats m_stats;
    std::FILE* m_perf_map{nullptr}; ///< VESSEL_PERF_MAP=1: JIT symbols for perf(1)
};

} // namespace vessel::soft
