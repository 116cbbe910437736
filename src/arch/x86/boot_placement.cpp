// BootPlacement: first-fit and last-fit searches over usable RAM minus used ranges.
#include "arch/x86/boot_placement.hpp"

#include <algorithm>

namespace vessel::x86 {

namespace {

std::uint64_t align_down(std::uint64_t value, std::uint64_t alignment) {
    return value & ~(alignment - 1);
}

/// Rounds up; nullopt when the result would wrap past 2^64.
std::optional<std::uint64_t> align_up(std::uint64_t value, std::uint64_t alignment) {
    if (value > ~std::uint64_t{0} - (alignment - 1)) return std::nullopt;
    return align_down(value + alignment - 1, alignment);
}

} // namespace

BootPlacement::BootPlacement(const std::vector<E820Entry>& memory_map) {
    for (const auto& entry : memory_map)
        if (entry.type == E820Type::ram) m_usable.push_back({entry.address, entry.size});
}

bool BootPlacement::is_usable_ram(AddressRange range) const {
    return std::any_of(m_usable.begin(), m_usable.end(), [&](const AddressRange& ram) {
        return range.start >= ram.start && range.size <= ram.size &&
               range.start - ram.start <= ram.size - range.size;
    });
}

std::optional<AddressRange> BootPlacement::first_overlap(AddressRange range) const {
    for (const auto& used : m_used)
        if (used.overlaps(range)) return used;
    return std::nullopt;
}

std::optional<std::uint64_t> BootPlacement::lowest_fit(std::uint64_t size, std::uint64_t alignment,
                                                       std::uint64_t minimum,
                                                       std::uint64_t limit) const {
    if (size == 0) size = 1;
    for (const auto& ram : m_usable) {
        auto window_end = std::min(ram.end(), limit);
        auto candidate = align_up(std::max(ram.start, minimum), alignment);
        while (candidate && *candidate < window_end && window_end - *candidate >= size) {
            auto overlap = first_overlap({*candidate, size});
            if (!overlap) return *candidate;
            candidate = align_up(overlap->end(), alignment);
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> BootPlacement::highest_fit(std::uint64_t size, std::uint64_t alignment,
                                                        std::uint64_t minimum,
                                                        std::uint64_t limit) const {
    if (size == 0) size = 1;
    for (auto ram = m_usable.rbegin(); ram != m_usable.rend(); ++ram) {
        auto window_start = std::max(ram->start, minimum);
        auto window_end = std::min(ram->end(), limit);
        if (window_end <= window_start || window_end - window_start < size) continue;
        auto candidate = align_down(window_end - size, alignment);
        while (candidate >= window_start) {
            auto overlap = first_overlap({candidate, size});
            if (!overlap) return candidate;
            if (overlap->start < size) break;
            candidate = align_down(overlap->start - size, alignment);
        }
    }
    return std::nullopt;
}

} // namespace vessel::x86
