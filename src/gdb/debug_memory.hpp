// Debugger access to guest memory: through a vCPU's current page tables (GDB's default view)
// or guest-physical addresses (the `monitor phys` mode), page by page.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "arch/x86/page_walk.hpp"
#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::gdb {

/// The largest read or write one packet may ask for.
constexpr std::uint64_t max_memory_transfer = 8192;

/// Reads up to `length` bytes at `address`; stops early at the first unmapped page (the
/// result is shorter), fails when not even the first byte is readable.
Result<std::vector<std::uint8_t>> read_debug_memory(const GuestMemory& memory,
                                                    const x86::PagingMode& paging, bool physical,
                                                    std::uint64_t address, std::uint64_t length);
/// Writes all of `data` or nothing (every page is translated before the first byte is written).
Result<void> write_debug_memory(GuestMemory& memory, const x86::PagingMode& paging, bool physical,
                                std::uint64_t address, std::span<const std::uint8_t> data);

} // namespace vessel::gdb
