// The snapshot memory file: guest RAM as raw bytes, holes where pages are zero.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::snapshot {

/// Writes guest RAM (the host mapping's bytes in order: RAM below the MMIO hole, then above
/// 4 GiB) to `path`. Zero pages are left as holes of a sparse file. Returns the bytes of
/// non-zero pages written.
Result<std::uint64_t> write_memory_file(const GuestMemory& memory, const std::string& path);

/// Maps a memory file as guest RAM of `size` bytes, privately and lazily: nothing is read
/// until the guest touches a page, and the guest's writes never reach the file. A file of
/// another size is refused, naming both sizes.
Result<GuestMemory> map_memory_file(const std::string& path, std::uint64_t size);

} // namespace vessel::snapshot
