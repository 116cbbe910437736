// Translator: dispatch between translated code and the interpreter, translation on heat,
// chaining, and whole-cache flushes.
#include "engine/soft/translator/translator.hpp"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/log.hpp"
#include "engine/soft/translator/loop_region.hpp"

namespace vessel::soft {

Result<std::unique_ptr<Translator>> Translator::create(CpuCore& cpu, Interpreter& interpreter,
                                                       Options options) {
    CodeCache cache = TRY(CodeCache::create(options.cache_size));
    if (options.page_aliases && cpu.page_aliases() == nullptr && cpu.memory().file() >= 0 &&
        cpu.index() < PageAliases::max_vcpus) {
        auto aliases = PageAliases::create(cpu.memory().file());
        if (aliases)
            cpu.set_page_aliases(std::make_unique<PageAliases>(std::move(*aliases)));
        else
            log::debug("vCPU: translated code without page aliases: {}", aliases.error().message);
    }
    auto translator =
        std::unique_ptr<Translator>(new Translator(cpu, interpreter, options, std::move(cache)));
    translator->m_translator.set_page_aliases(cpu.page_aliases() != nullptr);
    return translator;
}

namespace {

/// The gs base of this thread: the page alias window of the vCPU whose translated user code it
/// last ran (that code reaches RAM as gs:[r14d]; Emitter::looked_up). Nothing else in Vessel
/// uses gs.
thread_local std::uintptr_t t_gs_base = 0;

} // namespace

void Translator::point_gs_at_aliases() {
    const PageAliases* aliases = m_cpu.page_aliases();
    if (aliases == nullptr) return;
    const auto base = reinterpret_cast<std::uintptr_t>(aliases->base());
    if (t_gs_base == base) return;
    if (::syscall(SYS_arch_prctl, ARCH_SET_GS, base) != 0) {
        // Translated user code would reach other memory: this vCPU goes on without aliases.
        log::warn("vCPU {}: translated code without page aliases: cannot set the gs base: {}",
                  m_cpu.index(), std::strerror(errno));
        m_cpu.set_page_aliases(nullptr);
        m_translator.set_page_aliases(false);
        drop_translations();
        return;
    }
    t_gs_base = base;
}

Translator::Translator(CpuCore& cpu, Interpreter& interpreter, Options options, CodeCache cache)
    : m_cpu(cpu), m_interpreter(interpreter), m_options(options), m_cache(std::move(cache)),
      m_layout(JitLayout::of(cpu)), m_runtime(JitRuntime::emit(m_cache, m_layout)),
      m_translator(m_layout, m_runtime) {
    m_translator.set_tlb_hints(&cpu.jit.tlb_hints.slots[0]);
    m_cpu.jit.host_mxcsr = _mm_getcsr(); // restored after each guest floating-point instruction
    // perf(1) reads /tmp/perf-PID.map to name JIT code: `VESSEL_PERF_MAP=1 perf record ...`.
    if (const char* wanted = std::getenv("VESSEL_PERF_MAP"); wanted != nullptr && *wanted == '1')
        m_perf_map = std::fopen(fmt::format("/tmp/perf-{}.map", getpid()).c_str(), "a");
}

Translator::~Translator() {
    if (m_perf_map != nullptr) std::fclose(m_perf_map);
}

void Translator::renew_jump_stamps() {
    m_cpu.jit.global_jump_stamp += 2;
    m_cpu.jit.jump_stamp += 2;
    m_live_jumps.clear();
    ++m_stats.jump_stamp_renewals;
}

void Translator::refresh_jump_stamp() {
    // The mode and CPL are compared per entry (a system call must not void the table).
    JitContext& jit = m_cpu.jit;
    jit.context = m_cpu.fetch_context;
    const std::uint64_t code_generation = m_cpu.code_pages().any_generation();
    const std::uint64_t global_flushes = m_cpu.global_fetch_epoch - m_stamp_global_fetch_epoch;
    const std::uint64_t flushes = m_cpu.fetch_epoch - m_stamp_fetch_epoch;
    const std::uint64_t page_flushes = jit.tlb.page_flushes() - m_stamp_page_flushes;
    m_stamp_page_flushes = jit.tlb.page_flushes(); // SMAP windows close by page too
    if (global_flushes == 0 && flushes == 0 && code_generation == m_stamp_code_generation)
        [[likely]]
        return;
    const bool code_changed = code_generation != m_stamp_code_generation;
    m_stamp_global_fetch_epoch = m_cpu.global_fetch_epoch;
    m_stamp_fetch_epoch = m_cpu.fetch_epoch;
    m_stamp_code_generation = code_generation;
    // A single-page flush (invlpg) bumps both epochs once and logs its page; a whole flush
    // (CR3 write, CR0/CR4 paging bits) logs none. So with no whole flush and at least as many
    // logged pages as epoch bumps, only the logged pages' mappings may have changed.
    const bool whole = jit.tlb.full_flushes() != m_stamp_full_flushes;
    m_stamp_full_flushes = jit.tlb.full_flushes();
    const bool pages_only = !whole && global_flushes == flushes && page_flushes >= global_flushes &&
                            page_flushes <= JitTlb::page_log_size;
    std::uint64_t flushed[JitTlb::page_log_size];
    std::size_t flushed_count = 0;
    if (pages_only) {
        for (std::uint64_t i = jit.tlb.page_flushes() - page_flushes; i < jit.tlb.page_flushes();
             ++i)
            flushed[flushed_count++] = jit.tlb.flushed_page(i);
    } else if (global_flushes != 0) [[unlikely]] {
        renew_jump_stamps(); // global pages' mappings may have changed
        return;
    } else if (flushes != 0) {
        // A flush that keeps global pages (CR3 write): entries for kernel code stay valid.
        jit.jump_stamp += 2;
        if (!code_changed) return;
    }
    // Code changed somewhere, or pages were flushed: drop the entries they concern.
    if (m_live_jumps.drop_stale(jit, m_cpu.code_pages(), std::span(flushed, flushed_count)))
        ++m_stats.jump_entries_dropped;
    else
        renew_jump_stamps(); // more entries were filled than remembered
}

void Translator::fill_jump_entry(const CodeBlock& block, const Translation& translation) {
    CpuCore& cpu = m_cpu;
    std::uint64_t ram_offset = 0;
    bool global = false;
    cpu.fetch_pointer(cpu.rip, &ram_offset, &global); // a TLB hit: the block was just fetched
    const std::uint64_t stamp = global ? cpu.jit.global_jump_stamp : cpu.jit.jump_stamp;
    JitJumpEntry& jump = cpu.jit.jumps.entry_for(cpu.rip);
    if (jump.rip == cpu.rip && jump.stamp == stamp && jump.code == translation.code &&
        jump.context == cpu.fetch_context)
        return; // valid and remembered already
    // The stamps' inputs were read before: a store that made the block stale since then would
    // go unnoticed.
    if (!m_interpreter.cache().fresh(block)) return;
    jump = {cpu.rip, stamp, translation.code, cpu.fetch_context};
    m_live_jumps.filled(cpu.jit, jump, block);
}

void Translator::drop_direct_stores() {
    // Since a page became code (possibly on another vCPU), this vCPU may have stored to it
    // through an entry filled while it held none: such stores invalidated nothing, so whatever
    // was decoded from the page counts as stale now (bounded staleness for cross-modifying
    // code, as on hardware without serialization).
    CodePages& pages = m_cpu.code_pages();
    // The tracked entries, not all 12288: pages become code about 3000 times in a boot.
    m_cpu.jit.tlb.for_each_write_entry([&](const JitTlbEntry& entry, unsigned) {
        if (!JitTlbEntry::valid(entry.tag)) return;
        const auto page =
            static_cast<std::uint64_t>(reinterpret_cast<const std::uint8_t*>(entry.host_page) -
                                       m_cpu.ram_base()) >>
            12;
        if (pages.holds_code(page)) pages.invalidate(page);
    });
    m_cpu.jit.tlb.flush_writes();
}

void Translator::flush() {
    drop_translations();
    ++m_stats.cache_flushes;
}

void Translator::drop_translations() {
    renew_jump_stamps();
    m_cache.reset(m_runtime.size());
    m_translations.clear();
    ++m_epoch;
    m_pending_site = nullptr;
}

void Translator::release_memory() {
    drop_translations();
    m_translations.shrink_to_fit();
    m_cache.release(m_runtime.size());
}

const Translation* Translator::translation_for(CodeBlock& block, std::uint64_t linear) {
    if (m_cpu.isa_features != m_isa_features) [[unlikely]] {
        drop_translations(); // tzcnt/lzcnt translate differently under another model
        m_isa_features = m_cpu.isa_features;
        m_translator.set_isa_features(m_isa_features);
    }
    const Translation* current = block.translation;
    if (current != nullptr && block.translation_epoch == m_epoch && current->linear == linear &&
        current->context == m_cpu.fetch_context) [[likely]]
        return current;
    if (!block.translatable || ++block.heat < m_options.hot_threshold) return nullptr;
    block.heat = 0;
    std::uint64_t ram_offset = 0;
    const std::uint8_t* bytes = block.crossing_bytes.empty()
                                    ? m_cpu.fetch_pointer(linear, &ram_offset)
                                    : block.crossing_bytes.data();
    const auto start = std::chrono::steady_clock::now();
    auto translation = std::make_unique<Translation>();
    translation->context = m_cpu.fetch_context;
    translation->crosses_page = block.next_page != CodeBlock::no_page;
    translation->page = block.page;
    const bool user = m_cpu.cpl == 3;
    if (!m_translator.translate(*translation, block, bytes, linear, user, m_cache)) {
        flush();
        if (!m_translator.translate(*translation, block, bytes, linear, user, m_cache)) {
            block.translatable = false;
            return nullptr;
        }
    }
    publish(*translation, "");
    ++m_stats.blocks_translated;
    m_stats.translation_nanoseconds +=
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now() - start)
                                       .count());
    m_stats.native_ops += translation->native_ops;
    m_stats.fallback_ops += translation->fallback_ops;
    m_stats.access_groups += translation->access_groups;
    m_stats.grouped_accesses += translation->grouped_accesses;
    block.translation = translation.get();
    block.translation_epoch = m_epoch;
    m_translations.push_back(std::move(translation));
    return block.translation;
}

void Translator::publish(const Translation& translation, const char* suffix) {
    const std::uint64_t linear = translation.linear;
    if (m_perf_map != nullptr) {
        fmt::print(m_perf_map, "{:x} {:x} guest_{:x}_cpl{}{}\n",
                   reinterpret_cast<std::uintptr_t>(translation.code), translation.code_size,
                   linear, m_cpu.cpl, suffix);
        std::fflush(m_perf_map); // perf reads it after a crash too
    }
    if (const char* dump = std::getenv("VESSEL_JIT_DUMP")) {
        // A comma-separated list of guest addresses (hex).
        for (const char* at = dump; *at != '\0';) {
            char* end = nullptr;
            if (std::strtoull(at, &end, 16) == linear) {
                if (FILE* f = std::fopen(fmt::format("/tmp/jit-{:x}{}.bin", linear, suffix).c_str(),
                                         "w")) {
                    std::fwrite(translation.code, 1, translation.code_size, f);
                    std::fclose(f);
                }
            }
            if (end == at) break;
            at = *end == ',' ? end + 1 : end;
        }
    }
}

void Translator::chain(const Translation& target) {
    ChainSite* site = std::exchange(m_pending_site, nullptr);
    // The exit was taken under the current mapping and mode, and direct exits only lead to
    // the source block's own page, so source and target were translated from one page: a store
    // to it makes both stale together, and the dispatcher never enters a stale block.
    // A page-crossing block goes stale with either page: never a chain target (exits to it
    // take the jump table, see Emitter::exit_to).
    if (site->chained || site->target != target.linear || target.crosses_page) return;
    patch(*site, target);
    site->chained = true;
    ++m_stats.chain_patches;
}

void Translator::patch(ChainSite& site, const Translation& target) {
    const auto patch_jump = [](std::uint8_t* jump, const std::uint8_t* to) {
        const auto displacement = static_cast<std::int32_t>(to - (jump + 5));
        std::memcpy(jump + 1, &displacement, sizeof displacement);
    };
    if (site.check == nullptr) {
        patch_jump(site.jump, target.code); // a forward edge: no budget check
        if (site.branch != nullptr) {       // the jcc leading to that jmp: straight to the target
            const auto displacement = static_cast<std::int32_t>(target.code - (site.branch + 6));
            std::memcpy(site.branch + 2, &displacement, sizeof displacement);
        }
    } else if (target.flags_dead_at_entry) {
        patch_jump(site.fast_jump, target.code);
        // The jmp to the flag-safe check becomes a 5-byte nop: into the short check after it.
        static constexpr std::uint8_t nop5[5] = {0x0f, 0x1f, 0x44, 0x00, 0x00};
        std::memcpy(site.check, nop5, sizeof nop5);
    } else {
        patch_jump(site.jump, target.code);
    }
}

const Translation* Translator::loop_region(CodeBlock& block, const Translation& translation) {
    CpuCore& cpu = m_cpu;
    block.region_epoch = m_epoch;
    if (!m_options.loop_regions || !m_translator.makes_regions(cpu.cpl == 3) ||
        translation.region_blocks != 0 || translation.crosses_page)
        return &translation;
    std::uint64_t ram_offset = 0;
    const std::uint8_t* host = cpu.fetch_pointer(cpu.rip, &ram_offset); // a hit: just fetched
    const std::uint64_t offset = cpu.rip & 0xfff;
    LoopRegion region;
    if (!find_loop_region(m_interpreter.cache(), block, cpu.rip, ram_offset - offset,
                          static_cast<unsigned>(cpu.mode), region))
        return &translation;
    auto made = std::make_unique<Translation>();
    made->context = cpu.fetch_context;
    made->page = block.page;
    const auto result = m_translator.translate_region(*made, region.blocks, host - offset,
                                                      cpu.cpl == 3, m_cache, translation.code);
    if (result != BlockTranslator::RegionResult::translated) return &translation;
    publish(*made, "_loop");
    ++m_stats.loop_regions;
    m_stats.hoisted_groups += made->hoisted_groups;
    m_stats.register_loans += made->region->register_loans;
    m_stats.native_ops += made->native_ops;
    m_stats.access_groups += made->access_groups;
    // Exits chained to the head's own translation come here now: those of this page's code
    // made for this mode (the only ones chained to it: chains stay in a page).
    for (const auto& other : m_translations) {
        if (other->page != block.page || other->context != cpu.fetch_context) continue;
        for (ChainSite& site : other->sites())
            if (site.chained && site.target == cpu.rip) patch(site, *made);
    }
    block.translation = made.get();
    block.translation_epoch = m_epoch;
    m_translations.push_back(std::move(made));
    return block.translation;
}

void Translator::execute(unsigned& budget) {
    CpuCore& cpu = m_cpu;
    // Guest breakpoints, TF and RF need each instruction checked (SoftVcpu::run_traced, which
    // the run loop picks first): never translated code while they are armed.
    if (cpu.mode != CpuMode::Long64 || cpu.single_instruction || cpu.debug_traced()) {
        m_pending_site = nullptr;
        ++m_stats.interpreted_dispatches;
        m_interpreter.execute(budget);
        return;
    }
    point_gs_at_aliases();
    CodeBlock* block = m_interpreter.current_block();
    const Translation* translation = translation_for(*block, cpu.rip);
    if (translation != nullptr && cpu.rip == m_loop_head) [[unlikely]] {
        m_loop_head = ~std::uint64_t{0};
        if (block->region_epoch != m_epoch) translation = loop_region(*block, *translation);
    }
    if (translation == nullptr) {
        m_pending_site = nullptr;
        ++m_stats.interpreted_dispatches;
        --budget;
        m_interpreter.run(*block);
        return;
    }
    if (m_pending_site != nullptr) chain(*translation);
    const std::uint64_t code_epoch = cpu.code_pages().code_epoch();
    if (code_epoch != m_code_epoch) {
        m_code_epoch = code_epoch; // a page became code: no direct stores to it from now on
        drop_direct_stores();
    }
    // Read the stamp's inputs only now: the lookup above may have filled a TLB entry (no
    // flush) or decoded code (a generation bump from a racing store is caught next time).
    refresh_jump_stamp();
    fill_jump_entry(*block, *translation);
    --budget;
    ++m_stats.translated_dispatches;
    cpu.exit_block = false;
    cpu.jit.flags = cpu.flags() & arithmetic_flags;
    cpu.jit.exit_site = nullptr;
    std::fill(std::begin(cpu.jit.alias_pins), std::end(cpu.jit.alias_pins), JitContext::no_pin);
    std::atomic_ref<std::uint32_t>(cpu.jit.budget)
        .store(m_options.chained_budget, std::memory_order_relaxed);
    const JitExit exit = m_runtime.enter(cpu, translation->code);
    if (exit == JitExit::Translated) {
        cpu.set_flags((cpu.rflags & ~arithmetic_flags) | (cpu.jit.flags & arithmetic_flags));
        m_pending_site = static_cast<ChainSite*>(const_cast<void*>(cpu.jit.exit_site));
        if (m_pending_site != nullptr)
            ++m_stats.exits_unchained;
        else if (cpu.jit.budget == 0) {
            // The budget ran out or a kick zeroed it: the batch ends, so the run loop polls the
            // timers and looks at kicks now rather than after 64 more dispatches.
            ++m_stats.exits_budget;
            budget = 0;
            m_loop_head = cpu.rip; // (a loop's head when its back edge ran out)
        } else
            ++m_stats.exits_lookup;
        return;
    }
    ++m_stats.exits_helper;
    if (cpu.jit.deferred) std::rethrow_exception(std::exchange(cpu.jit.deferred, nullptr));
}

std::size_t Translator::metadata_bytes() const {
    std::size_t bytes = 0;
    for (const auto& translation : m_translations) {
        bytes += sizeof(Translation) + sizeof(translation);
        if (translation->region != nullptr)
            bytes +=
                sizeof(RegionStorage) + translation->region->ops.capacity() * sizeof(DecodedOp);
    }
    return bytes;
}

std::string Translator::describe() const {
    const Stats& s = m_stats;
    // The most interpreted instructions, most first.
    std::vector<std::pair<std::uint32_t, unsigned>> counts;
    const auto& by_mnemonic = m_cpu.jit.interpreted_by_mnemonic;
    for (unsigned m = 0; m < std::size(by_mnemonic); ++m)
        if (by_mnemonic[m] != 0) counts.emplace_back(by_mnemonic[m], m);
    std::sort(counts.rbegin(), counts.rend());
    std::string interpreted;
    for (std::size_t i = 0; i < counts.size() && i < 12; ++i)
        interpreted += fmt::format(
            " {} {}", ZydisMnemonicGetString(static_cast<ZydisMnemonic>(counts[i].second)),
            counts[i].first);
    return fmt::format("translator: exits {} unchained / {} budget / {} lookup / {} helper; "
                       "jump table: {} renewals, {} partial drops; {} loop regions ({} checks "
                       "hoisted, {} registers lent); interpreted:{}; ",
                       s.exits_unchained, s.exits_budget, s.exits_lookup, s.exits_helper,
                       s.jump_stamp_renewals, s.jump_entries_dropped, s.loop_regions,
                       s.hoisted_groups, s.register_loans, interpreted) +
           fmt::format(
               "translator: {} blocks translated ({} instructions native, {} via the "
               "interpreter), {} chain patches, {} cache flushes, {} KiB code + {} KiB "
               "metadata, dispatches {} translated / {} interpreted, {} ms translating, "
               "{} access sites gave up their TLB hint, {} access groups serving {} "
               "accesses, {}",
               s.blocks_translated, s.native_ops, s.fallback_ops, s.chain_patches, s.cache_flushes,
               code_bytes() >> 10, metadata_bytes() >> 10, s.translated_dispatches,
               s.interpreted_dispatches, s.translation_nanoseconds / 1000000, unhinted_sites(),
               s.access_groups, s.grouped_accesses,
               m_cpu.page_aliases() == nullptr
                   ? std::string("no page aliases")
                   : fmt::format("{} page alias remaps ({} refused: slots settling)",
                                 m_cpu.page_aliases()->remaps(), m_cpu.page_aliases()->refusals()));
}

unsigned Translator::unhinted_sites() const {
    unsigned count = 0;
    for (const JitTlbHint& hint : m_cpu.jit.tlb_hints.slots)
        count += hint.misses_left > JitTlbHint::miss_limit; // counting down from gave_up
    return count;
}

} // namespace vessel::soft
