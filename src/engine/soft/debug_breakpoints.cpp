// Guest breakpoints in DR0-DR3 under DR7 (Intel SDM Vol. 3, 18.2.4-18.3.1): which instruction and
// data breakpoints are enabled and which an access hits. The run loop (SoftVcpu::run_traced)
// raises the #DB; I/O breakpoints (R/W = 10b with CR4.DE) are not implemented.
#include "engine/soft/cpu_core.hpp"

namespace vessel::soft {

namespace {

bool enabled(std::uint64_t dr7, unsigned index) {
    return ((dr7 >> (2 * index)) & 3) != 0; // Ln or Gn
}
unsigned access_kind(std::uint64_t dr7, unsigned index) {
    return (dr7 >> (16 + 4 * index)) & 3; // 00 execute, 01 write, 10 I/O, 11 read or write
}
/// LEN: 00 one byte, 01 two, 11 four, 10 eight (64-bit processors).
std::uint64_t length(std::uint64_t dr7, unsigned index) {
    static constexpr std::uint64_t lengths[4] = {1, 2, 8, 4};
    return lengths[(dr7 >> (18 + 4 * index)) & 3];
}

constexpr unsigned execute = 0, write_only = 1, read_write = 3;

} // namespace

void CpuCore::update_breakpoints() {
    std::uint8_t data = 0;
    for (unsigned i = 0; i < 4; ++i) {
        const unsigned kind = access_kind(dr[7], i);
        if (enabled(dr[7], i) && (kind == write_only || kind == read_write))
            data |= static_cast<std::uint8_t>(1u << i);
    }
    const bool newly_armed = data != 0 && data_breakpoints == 0;
    data_breakpoints = data;
    // Entries filled before would let accesses bypass note_data_access.
    if (newly_armed) flush_tlb(true);
}

std::uint64_t CpuCore::instruction_breakpoint_hits(std::uint64_t address) const {
    std::uint64_t hits = 0;
    for (unsigned i = 0; i < 4; ++i)
        if (enabled(dr[7], i) && access_kind(dr[7], i) == execute && dr[i] == address)
            hits |= 1u << i;
    return hits;
}

void CpuCore::note_data_access(std::uint64_t address, unsigned size, bool write) {
    for (unsigned i = 0; i < 4; ++i) {
        if (!(data_breakpoints & (1u << i))) continue;
        if (!write && access_kind(dr[7], i) == write_only) continue;
        // The breakpoint covers its aligned LEN bytes (the low address bits are ignored).
        const std::uint64_t span = length(dr[7], i);
        const std::uint64_t start = dr[i] & ~(span - 1);
        if (address < start + span && start < address + size)
            data_breakpoint_hits |= static_cast<std::uint8_t>(1u << i);
    }
}

} // namespace vessel::soft
