// BalloonStatistics: decoding the statistics queue's tag/value entries.
#include "devices/virtio/balloon/balloon_statistics.hpp"

#include <cstring>

namespace vessel::virtio {

BalloonStatistics BalloonStatistics::parse(std::span<const std::uint8_t> bytes, bool& malformed) {
    BalloonStatistics statistics;
    malformed = bytes.size() % entry_size != 0;
    for (std::size_t at = 0; at + entry_size <= bytes.size(); at += entry_size) {
        std::uint16_t tag;
        std::uint64_t value;
        // Entries are packed and little-endian like the host: copy, never cast.
        std::memcpy(&tag, bytes.data() + at, sizeof(tag));
        std::memcpy(&value, bytes.data() + at + sizeof(tag), sizeof(value));
        if (tag < count) statistics.values[tag] = value;
    }
    return statistics;
}

} // namespace vessel::virtio
