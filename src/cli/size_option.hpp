// Parsing of human memory sizes ("256M", "1G", "512") for command-line options.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.hpp"

namespace vessel {

/// Parses a size with an optional binary suffix K, M, G or T (also KiB/MiB/GiB/TiB, KB/MB/GB);
/// a bare number means MiB, as with QEMU's -m. Rejects empty, negative, fractional and
/// overflowing values.
Result<std::uint64_t> parse_memory_size(std::string_view text);

} // namespace vessel
