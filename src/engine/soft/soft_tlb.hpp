// SoftTlb: the interpreter's software TLB, linear page -> host page, per privilege and access.
#pragma once

#include <cstdint>

namespace vessel::soft {

enum AccessKind : std::uint8_t { access_read = 0, access_write = 1, access_execute = 2 };

/// One software-TLB entry: a linear page and the host page (nullptr: not RAM) it maps to.
struct TlbEntry {
    std::uint64_t tag{~std::uint64_t{0}}; ///< linear page number
    std::uint8_t* host{nullptr};
    std::uint64_t physical_page{0};
    bool global{false};
};

/// Direct-mapped entries, one table per privilege (supervisor, user) and access kind, so a hit
/// needs no permission check: an entry exists only where the walk allowed that access.
class SoftTlb {
  public:
    static constexpr unsigned size = 256;

    /// The slot linear page `page` uses for `kind` accesses at privilege `user`.
    [[gnu::always_inline]] TlbEntry& entry(bool user, AccessKind kind, std::uint64_t page) {
        return m_entries[user][kind][page % size];
    }
    [[gnu::always_inline]] const TlbEntry& entry(bool user, AccessKind kind,
                                                 std::uint64_t page) const {
        return m_entries[user][kind][page % size];
    }
    /// Drops every entry, or every entry but those of global pages.
    void flush(bool include_global) {
        for (auto& privilege : m_entries)
            for (auto& kind : privilege)
                for (auto& slot : kind)
                    if (include_global || !slot.global) slot.tag = invalid_tag;
    }
    /// Drops every entry for `kind` accesses, global or not (the dirty log was taken: write
    /// entries exist only for pages marked in it).
    void flush_kind(AccessKind kind) {
        for (auto& privilege : m_entries)
            for (auto& slot : privilege[kind])
                slot.tag = invalid_tag;
    }
    /// Drops the entries of linear page `page`, global or not (invlpg).
    void flush_page(std::uint64_t page) {
        for (auto& privilege : m_entries)
            for (auto& kind : privilege) {
                TlbEntry& slot = kind[page % size];
                if (slot.tag == page) slot.tag = invalid_tag;
            }
    }

    /// Drops the read and write entries of linear page `page` at privilege `user` (RFLAGS.AC
    /// closed a SMAP window: instruction fetches never depended on it).
    void flush_data_page(bool user, std::uint64_t page) {
        for (AccessKind kind : {access_read, access_write}) {
            TlbEntry& slot = m_entries[user][kind][page % size];
            if (slot.tag == page) slot.tag = invalid_tag;
        }
    }

  private:
    static constexpr std::uint64_t invalid_tag = ~std::uint64_t{0};
    TlbEntry m_entries[2][3][size];
};

} // namespace vessel::soft
