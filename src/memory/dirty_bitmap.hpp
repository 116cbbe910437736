// DirtyBitmap: one bit per 4 KiB page of guest RAM, set when the page is written.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace vessel {

/// Which pages of guest RAM were written since the log was last taken: by a vCPU (the
/// software engine marks a page before it installs a TLB write entry for it) or by a device
/// (GuestMemory::mark_written). Pages are numbered by their offset in GuestMemory's host
/// mapping (page = host_offset / 4096). Lock-free and safe from any number of threads.
///
/// Taking the log (take()) clears it and bumps epoch(): an engine that caches "this page is
/// already marked" (the soft TLB's write entries) must drop those caches when the epoch
/// changes, before its next guest store, or later stores to those pages would go unseen.
class DirtyBitmap {
  public:
    static constexpr std::uint64_t page_size = 4096;

    explicit DirtyBitmap(std::uint64_t page_count)
        : m_page_count(page_count), m_word_count((page_count + 63) / 64),
          m_words(new std::atomic<std::uint64_t>[m_word_count]) {
        for (std::uint64_t i = 0; i < m_word_count; ++i)
            m_words[i].store(0, std::memory_order_relaxed);
    }

    std::uint64_t page_count() const { return m_page_count; }

    /// Marks page `page` written (pages past the end are ignored).
    void mark(std::uint64_t page) {
        if (page >= m_page_count) return;
        const std::uint64_t bit = std::uint64_t{1} << (page % 64);
        std::atomic<std::uint64_t>& word = m_words[page / 64];
        // A plain load first: pages written again and again stay cheap (no locked op).
        if (!(word.load(std::memory_order_relaxed) & bit))
            word.fetch_or(bit, std::memory_order_release);
    }
    /// Marks every page touching [host_offset, host_offset + length).
    void mark_range(std::uint64_t host_offset, std::uint64_t length) {
        if (length == 0) return;
        const std::uint64_t last = (host_offset + length - 1) / page_size;
        for (std::uint64_t page = host_offset / page_size; page <= last && page < m_page_count;
             ++page)
            mark(page);
    }
    bool is_dirty(std::uint64_t page) const {
        return page < m_page_count &&
               (m_words[page / 64].load(std::memory_order_acquire) >> (page % 64)) & 1;
    }
    /// Marks every page (the next take() returns all of RAM).
    void mark_all() {
        for (std::uint64_t i = 0; i < m_word_count; ++i)
            m_words[i].store(last_word_mask(i), std::memory_order_release);
    }

    /// Returns the log (64 pages per word, page 0 in bit 0 of word 0) and clears it; bumps
    /// epoch() first, so a cache of marked pages dropped after seeing the new epoch cannot
    /// hide a later store.
    std::vector<std::uint64_t> take() {
        m_epoch.fetch_add(1, std::memory_order_acq_rel);
        std::vector<std::uint64_t> words(m_word_count);
        for (std::uint64_t i = 0; i < m_word_count; ++i)
            words[i] = m_words[i].exchange(0, std::memory_order_acq_rel);
        return words;
    }
    /// Puts pages of a taken log back (a save that failed after take()).
    void restore(const std::vector<std::uint64_t>& words) {
        for (std::uint64_t i = 0; i < m_word_count && i < words.size(); ++i)
            if (words[i] != 0) m_words[i].fetch_or(words[i], std::memory_order_release);
    }
    /// Changes on every take(): write caches keyed to an older epoch are stale.
    std::uint64_t epoch() const { return m_epoch.load(std::memory_order_acquire); }

    /// Number of set bits in a taken log.
    static std::uint64_t count(const std::vector<std::uint64_t>& words) {
        std::uint64_t total = 0;
        for (std::uint64_t word : words)
            total += static_cast<std::uint64_t>(__builtin_popcountll(word));
        return total;
    }

  private:
    std::uint64_t last_word_mask(std::uint64_t word) const {
        const std::uint64_t first_page = word * 64;
        const std::uint64_t pages = m_page_count - first_page;
        return pages >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << pages) - 1;
    }

    std::uint64_t m_page_count;
    std::uint64_t m_word_count;
    std::unique_ptr<std::atomic<std::uint64_t>[]> m_words;
    std::atomic<std::uint64_t> m_epoch{0};
};

} // namespace vessel
