// The guest's physical memory map: RAM regions minus the PC's reserved low area.
#include "arch/x86/e820.hpp"

#include <algorithm>

#include "arch/x86/boot_layout.hpp"

namespace vessel::x86 {

namespace {

/// Appends the parts of [start, end) that lie outside the reserved low area.
void add_ram_outside_reserved(std::vector<E820Entry>& map, std::uint64_t start, std::uint64_t end) {
    using namespace boot_layout;
    if (start < reserved_low_start) {
        auto piece_end = std::min(end, reserved_low_start);
        map.push_back({start, piece_end - start, E820Type::ram});
    }
    auto reserved_start = std::max(start, reserved_low_start);
    auto reserved_end = std::min(end, reserved_low_end);
    if (reserved_start < reserved_end)
        map.push_back({reserved_start, reserved_end - reserved_start, E820Type::reserved});
    if (end > reserved_low_end) {
        auto piece_start = std::max(start, reserved_low_end);
        map.push_back({piece_start, end - piece_start, E820Type::ram});
    }
}

} // namespace

std::vector<E820Entry> build_e820_map(const GuestMemory& memory) {
    auto regions = memory.regions();
    std::sort(regions.begin(), regions.end(),
              [](const auto& a, const auto& b) { return a.guest_address < b.guest_address; });
    std::vector<E820Entry> map;
    for (const auto& region : regions) {
        if (region.size == 0) continue;
        add_ram_outside_reserved(map, region.guest_address, region.guest_address + region.size);
    }
    return map;
}

std::uint64_t low_ram_end(const GuestMemory& memory) {
    for (const auto& region : memory.regions())
        if (region.guest_address == 0) return region.size;
    return 0;
}

} // namespace vessel::x86
