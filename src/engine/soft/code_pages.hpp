// CodePages: which guest RAM pages hold decoded code, and a generation per page that stores bump.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "engine/soft/prefaulted_memory.hpp"
#include "memory/ram_write_observer.hpp"

namespace vessel::soft {

/// Shared by all vCPUs of a VM. Pages are numbered by their offset in the host RAM mapping
/// (unique per guest-physical RAM page). A decoded block remembers its page's generation and is
/// stale once a store to the page bumped it, whichever vCPU stored.
class CodePages final : public RamWriteObserver {
  public:
    /// Both maps start at zero, in prefaulted memory (5 bytes per 4 KiB of RAM, built while
    /// the VM is created or restored: page faults there were a large part of a restore).
    explicit CodePages(std::uint64_t ram_size)
        : m_page_count(ram_size >> 12),
          m_flags(make_prefaulted_array<std::atomic<std::uint8_t>>(m_page_count)),
          m_generations(make_prefaulted_array<std::atomic<std::uint32_t>>(m_page_count)) {}

    bool holds_code(std::uint64_t page) const {
        return page < m_page_count && m_flags[page].load(std::memory_order_relaxed) != 0;
    }
    void mark_code(std::uint64_t page) {
        if (page < m_page_count && m_flags[page].exchange(1, std::memory_order_acq_rel) == 0)
            m_code_epoch.fetch_add(1, std::memory_order_acq_rel);
    }
    /// Bumped whenever a page becomes code: translated code's direct-store TLB entries, which
    /// exist only for pages without code, must then be dropped.
    std::uint64_t code_epoch() const { return m_code_epoch.load(std::memory_order_acquire); }
    std::uint32_t generation(std::uint64_t page) const {
        return page < m_page_count ? m_generations[page].load(std::memory_order_acquire) : 0;
    }
    /// A store hit a code page: every block decoded from it becomes stale, and the page is no
    /// longer code until a block is decoded from it again (so later stores to a page reused
    /// for data cost nothing).
    void invalidate(std::uint64_t page) {
        if (page >= m_page_count) return;
        m_flags[page].store(0, std::memory_order_relaxed);
        m_generations[page].fetch_add(1, std::memory_order_acq_rel);
        m_any_generation.fetch_add(1, std::memory_order_acq_rel);
    }
    /// Bumped by every invalidate(): while unchanged, no block anywhere went stale, so a cached
    /// block needs no per-page check (one hot, rarely written word instead of a page lookup).
    std::uint64_t any_generation() const {
        return m_any_generation.load(std::memory_order_acquire);
    }

    /// Device DMA wrote [host_offset, host_offset+length): stale any code decoded from it.
    void ram_written(std::uint64_t host_offset, std::uint64_t length) override {
        if (length == 0) return;
        const std::uint64_t last = (host_offset + length - 1) >> 12;
        for (std::uint64_t page = host_offset >> 12; page <= last && page < m_page_count; ++page)
            if (holds_code(page)) invalidate(page);
    }

  private:
    std::atomic<std::uint64_t> m_any_generation{0};
    std::atomic<std::uint64_t> m_code_epoch{0};
    std::uint64_t m_page_count;
    PrefaultedArray<std::atomic<std::uint8_t>> m_flags;
    PrefaultedArray<std::atomic<std::uint32_t>> m_generations;
};

} // namespace vessel::soft
