// The snapshot memory file: guest RAM as raw bytes, holes where pages are zero.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::snapshot {

/// Writes guest RAM (the host mapping's bytes in order: RAM below the MMIO hole, then above
/// 4 GiB) to `path`. Zero pages are left as holes of a sparse file. Returns the bytes of
/// non-zero pages written.
Result<std::uint64_t> write_memory_file(const GuestMemory& memory, const std::string& path);

/// Writes a Diff memory file: a sparse file of the memory's size holding only the pages set in
/// `dirty` (DirtyBitmap::take words) at their offsets, zero pages included; every other page
/// is a hole, which means "as in the base". Returns the bytes of pages written.
Result<std::uint64_t> write_diff_memory_file(const GuestMemory& memory,
                                             const std::vector<std::uint64_t>& dirty,
                                             const std::string& path);

/// Merges the Diff memory file `diff_path` onto the Full one `base_path`: the diff's data
/// ranges (SEEK_DATA/SEEK_HOLE) replace the base's bytes. The result is written beside the
/// base and renamed over it, so a VM restored from the old base keeps its pages. Both files
/// must have the same size. Returns the bytes merged.
Result<std::uint64_t> merge_diff_memory_file(const std::string& diff_path,
                                             const std::string& base_path);

/// Maps a memory file as guest RAM of `size` bytes, privately and lazily: nothing is read
/// until the guest touches a page, and the guest's writes never reach the file. A file of
/// another size is refused, naming both sizes.
Result<GuestMemory> map_memory_file(const std::string& path, std::uint64_t size);

} // namespace vessel::snapshot
