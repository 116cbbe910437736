// BootPlacement: finds guest-physical room for boot data among RAM and what is already placed.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "arch/x86/e820.hpp"

namespace vessel::x86 {

/// A half-open guest-physical range [start, start + size). Callers keep start + size from
/// wrapping (every range here has been checked against guest RAM first).
struct AddressRange {
    std::uint64_t start;
    std::uint64_t size;

    std::uint64_t end() const { return start + size; }
    bool overlaps(const AddressRange& other) const {
        return size != 0 && other.size != 0 && start < other.end() && other.start < end();
    }
};

/// Tracks usable RAM (the e820 RAM entries) and the ranges a loader has already used, and
/// answers "where does a block of this size fit". Used for Multiboot info, modules and initrds.
class BootPlacement {
  public:
    explicit BootPlacement(const std::vector<E820Entry>& memory_map);

    /// Marks a range as used; later searches avoid it.
    void reserve(AddressRange range) { m_used.push_back(range); }
    /// True when the range lies inside one usable RAM entry.
    bool is_usable_ram(AddressRange range) const;
    /// The first already-used range overlapping `range`, if any.
    std::optional<AddressRange> first_overlap(AddressRange range) const;

    /// Lowest `alignment`-aligned address >= minimum where `size` bytes fit below `limit`
    /// in usable RAM without overlapping a used range. alignment must be a power of two.
    std::optional<std::uint64_t> lowest_fit(std::uint64_t size, std::uint64_t alignment,
                                            std::uint64_t minimum, std::uint64_t limit) const;
    /// Highest such address.
    std::optional<std::uint64_t> highest_fit(std::uint64_t size, std::uint64_t alignment,
                                             std::uint64_t minimum, std::uint64_t limit) const;

  private:
    std::vector<AddressRange> m_usable;
    std::vector<AddressRange> m_used;
};

} // namespace vessel::x86
