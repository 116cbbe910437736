// VirtioBlockRequest: one virtio-blk request decoded and checked from a descriptor chain.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.hpp"
#include "devices/virtio/virtqueue.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::virtio {

/// Request types and status values (virtio 1.2 §5.2.6).
namespace block {
constexpr std::uint32_t type_in = 0;
constexpr std::uint32_t type_out = 1;
constexpr std::uint32_t type_flush = 4;
constexpr std::uint32_t type_get_id = 8;
constexpr std::uint32_t type_discard = 11;
constexpr std::uint8_t status_ok = 0;
constexpr std::uint8_t status_io_error = 1;
constexpr std::uint8_t status_unsupported = 2;
constexpr std::uint64_t sector_size = 512;
constexpr std::uint64_t header_size = 16;          ///< le32 type, le32 reserved, le64 sector
constexpr std::uint32_t id_bytes = 20;             ///< VIRTIO_BLK_ID_BYTES
constexpr std::uint64_t discard_segment_size = 16; ///< le64 sector, le32 num_sectors, le32 flags
constexpr std::uint32_t discard_flag_unmap = 1;
} // namespace block

/// Bytes of a chain after the header and before the status byte (the data the request moves).
struct BlockRequest {
    std::uint32_t type{0};
    std::uint64_t sector{0};
    std::vector<VirtqueueBuffer> data; ///< guest buffers, in order
    std::uint64_t data_bytes{0};
    std::uint64_t status_address{0}; ///< the last device-writable byte
};

/// Splits chain into header, data and status without assuming a descriptor layout (§2.6.4):
/// the 16-byte header is the first readable bytes, the status the last writable byte; data is
/// the rest of the readable bytes (OUT, DISCARD) or of the writable bytes (IN, GET_ID). Fails
/// when there is no status byte (the request cannot even be answered). A short header yields a
/// request with type ~0 so the device answers IOERR.
Result<BlockRequest> parse_block_request(const DescriptorChain& chain, const GuestMemory& memory);

/// The byte range a sector-addressed request covers, checked against the disk size and for
/// overflow; fails for ranges past the end or data that is not whole sectors.
Result<std::uint64_t> block_request_offset(const BlockRequest& request, std::uint64_t disk_bytes);

} // namespace vessel::virtio
