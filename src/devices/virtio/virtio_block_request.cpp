// VirtioBlockRequest: header/data/status splitting over arbitrary descriptor layouts.
#include "devices/virtio/virtio_block_request.hpp"

#include <array>

namespace vessel::virtio {

namespace {

/// Copies the first out.size() bytes of buffers (which are checked to be in RAM) into out;
/// returns how many bytes there were.
std::size_t gather(const std::vector<VirtqueueBuffer>& buffers, const GuestMemory& memory,
                   std::span<std::uint8_t> out) {
    std::size_t done = 0;
    for (const auto& buffer : buffers) {
        if (done == out.size()) break;
        const std::size_t take = std::min<std::size_t>(buffer.length, out.size() - done);
        if (!memory.read_bytes(buffer.address, out.subspan(done, take))) break;
        done += take;
    }
    return done;
}

/// buffers without their first `skip` and last `drop` bytes.
std::vector<VirtqueueBuffer> middle(const std::vector<VirtqueueBuffer>& buffers, std::uint64_t skip,
                                    std::uint64_t drop, std::uint64_t total) {
    std::vector<VirtqueueBuffer> out;
    if (skip + drop >= total) return out;
    std::uint64_t position = 0;
    const std::uint64_t end = total - drop;
    for (const auto& buffer : buffers) {
        const std::uint64_t start = std::max(position, skip);
        const std::uint64_t stop = std::min(position + buffer.length, end);
        if (start < stop)
            out.push_back(
                {buffer.address + (start - position), static_cast<std::uint32_t>(stop - start)});
        position += buffer.length;
    }
    return out;
}

} // namespace

Result<BlockRequest> parse_block_request(const DescriptorChain& chain, const GuestMemory& memory) {
    if (chain.writable_bytes == 0) return make_error("virtio-blk request has no status byte");
    BlockRequest request;
    // The status byte: the last byte of the last non-empty writable buffer.
    for (auto it = chain.writable.rbegin(); it != chain.writable.rend(); ++it) {
        if (it->length == 0) continue;
        request.status_address = it->address + it->length - 1;
        break;
    }
    std::array<std::uint8_t, block::header_size> header{};
    if (gather(chain.readable, memory, header) < block::header_size) {
        request.type = ~0u; // answered with IOERR
        return request;
    }
    request.type = static_cast<std::uint32_t>(header[0] | (header[1] << 8) | (header[2] << 16) |
                                              (std::uint32_t{header[3]} << 24));
    for (int i = 7; i >= 0; --i)
        request.sector = (request.sector << 8) | header[8 + i];
    if (request.type == block::type_in || request.type == block::type_get_id) {
        request.data = middle(chain.writable, 0, 1, chain.writable_bytes);
        request.data_bytes = chain.writable_bytes - 1;
    } else {
        request.data = middle(chain.readable, block::header_size, 0, chain.readable_bytes);
        request.data_bytes = chain.readable_bytes - block::header_size;
    }
    return request;
}

Result<std::uint64_t> block_request_offset(const BlockRequest& request, std::uint64_t disk_bytes) {
    if (request.data_bytes % block::sector_size != 0)
        return make_error("{} data bytes are not whole sectors", request.data_bytes);
    const std::uint64_t sectors = disk_bytes / block::sector_size;
    const std::uint64_t length = request.data_bytes / block::sector_size;
    if (request.sector > sectors || length > sectors - request.sector)
        return make_error("sectors {}+{} are beyond the disk's {}", request.sector, length,
                          sectors);
    return request.sector * block::sector_size;
}

} // namespace vessel::virtio
