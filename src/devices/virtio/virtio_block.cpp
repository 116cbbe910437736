// VirtioBlock: configuration space, request dispatch to the backend, completion.
#include "devices/virtio/virtio_block.hpp"

#include <algorithm>
#include <array>

#include "base/log.hpp"
#include "devices/bus_device.hpp"
#include "devices/virtio/virtqueue.hpp"

namespace vessel::virtio {

namespace {
// struct virtio_blk_config offsets (§5.2.4).
constexpr std::uint32_t config_capacity = 0;
constexpr std::uint32_t config_seg_max = 12;
constexpr std::uint32_t config_block_size = 20;
constexpr std::uint32_t config_max_discard_sectors = 36;
constexpr std::uint32_t config_max_discard_seg = 40;
constexpr std::uint32_t config_discard_alignment = 44;
constexpr std::uint32_t seg_max = VirtioBlock::queue_size - 2; ///< header and status
} // namespace

VirtioBlock::VirtioBlock(std::unique_ptr<BlockBackend> backend, std::string id, BlockCache cache)
    : m_backend(std::move(backend)), m_id(std::move(id)), m_cache(cache) {}

VirtioBlock::~VirtioBlock() {
    m_backend->drain();
}

std::uint64_t VirtioBlock::features() const {
    std::uint64_t bits = feature_seg_max | feature_block_size;
    if (m_cache == BlockCache::writeback) bits |= feature_flush;
    if (m_backend->read_only()) bits |= feature_read_only;
    if (m_backend->supports_discard()) bits |= feature_discard;
    return bits;
}

void VirtioBlock::read_config(std::uint32_t offset, std::span<std::uint8_t> data) {
    std::array<std::uint8_t, config_bytes> config{};
    auto put = [&config](std::uint32_t at, std::uint64_t value, unsigned size) {
        value_to_bytes(value, std::span(config).subspan(at, size));
    };
    put(config_capacity, m_backend->size() / block::sector_size, 8);
    put(config_seg_max, seg_max, 4);
    put(config_block_size, block::sector_size, 4);
    if (m_backend->supports_discard()) {
        put(config_max_discard_sectors, max_discard_sectors, 4);
        put(config_max_discard_seg, 1, 4);
        put(config_discard_alignment, 4096 / block::sector_size, 4);
    }
    std::fill(data.begin(), data.end(), 0);
    if (offset < config_bytes)
        std::copy_n(config.begin() + offset,
                    std::min<std::size_t>(data.size(), config_bytes - offset), data.begin());
}

Result<void> VirtioBlock::activate(const VirtioActivation& activation) {
    m_activation.emplace(activation);
    return {};
}

void VirtioBlock::reset() {
    m_backend->drain(); // no completion may touch the queue or guest memory after this
    m_activation.reset();
}

void VirtioBlock::queue_notify(std::uint16_t index) {
    if (!m_activation || index != 0 || m_activation->queues.at(0) == nullptr) return;
    while (auto chain = m_activation->queues[0]->pop())
        start(*chain);
}

std::vector<iovec> VirtioBlock::host_buffers(const BlockRequest& request) const {
    std::vector<iovec> buffers;
    buffers.reserve(request.data.size());
    for (const auto& buffer : request.data) // each checked to lie in RAM by the virtqueue
        buffers.push_back(
            {m_activation->memory.host_pointer(buffer.address, buffer.length), buffer.length});
    return buffers;
}

void VirtioBlock::start(const DescriptorChain& chain) {
    auto parsed = parse_block_request(chain, m_activation->memory);
    if (!parsed) {
        log::debug("virtio-blk: {}", parsed.error().message);
        complete(chain.head, 0, block::status_io_error, 0); // nothing to answer in: used len 0
        return;
    }
    const BlockRequest request = std::move(*parsed);
    const std::uint16_t head = chain.head;
    const std::uint64_t status_address = request.status_address;
    auto finish = [this, head, status_address](std::uint64_t written) {
        return [this, head, status_address, written](Result<void> result) {
            if (!result) log::warn("virtio-blk: {}", result.error().message);
            complete(head, status_address, result ? block::status_ok : block::status_io_error,
                     result ? written : 0);
        };
    };
    switch (request.type) {
    case block::type_in:
    case block::type_out: {
        auto offset = block_request_offset(request, m_backend->size());
        if (!offset) {
            log::debug("virtio-blk: request rejected: {}", offset.error().message);
            return complete(head, status_address, block::status_io_error, 0);
        }
        if (request.type == block::type_in)
            return m_backend->read(*offset, host_buffers(request), finish(request.data_bytes));
        if (m_backend->read_only())
            return complete(head, status_address, block::status_io_error, 0);
        return m_backend->write(*offset, host_buffers(request), finish(0));
    }
    case block::type_flush:
        // Unsafe cache: the guest was not offered FLUSH; one it sends anyway is acknowledged
        // with nothing synced (Firecracker's cache_type Unsafe).
        if (m_cache == BlockCache::unsafe)
            return complete(head, status_address, block::status_ok, 0);
        return m_backend->flush(finish(0));
    case block::type_get_id: {
        // Up to 20 bytes, NUL-padded when shorter (§5.2.6.1).
        std::array<std::uint8_t, block::id_bytes> id{};
        std::copy_n(m_id.begin(), std::min<std::size_t>(m_id.size(), id.size()), id.begin());
        std::uint64_t written = 0;
        for (const auto& buffer : request.data) {
            if (written == id.size()) break;
            const std::size_t take = std::min<std::size_t>(buffer.length, id.size() - written);
            (void)m_activation->memory.write_bytes(buffer.address,
                                                   std::span(id).subspan(written, take));
            written += take;
        }
        return complete(head, status_address, block::status_ok, written);
    }
    case block::type_discard:
        if (m_backend->supports_discard()) return handle_discard(head, request);
        return complete(head, status_address, block::status_unsupported, 0);
    default:
        return complete(head, status_address,
                        request.type == ~0u ? block::status_io_error : block::status_unsupported,
                        0);
    }
}

void VirtioBlock::handle_discard(std::uint16_t head, const BlockRequest& request) {
    // One segment (max_discard_seg = 1): le64 sector, le32 num_sectors, le32 flags (§5.2.6).
    std::array<std::uint8_t, block::discard_segment_size> segment{};
    std::size_t have = 0;
    for (const auto& buffer : request.data) {
        const std::size_t take = std::min<std::size_t>(buffer.length, segment.size() - have);
        (void)m_activation->memory.read_bytes(buffer.address,
                                              std::span(segment).subspan(have, take));
        have += take;
        if (have == segment.size()) break;
    }
    if (have != segment.size() || request.data_bytes != block::discard_segment_size)
        return complete(head, request.status_address, block::status_io_error, 0);
    const std::uint64_t sector = bytes_to_value(std::span(segment).subspan(0, 8));
    const std::uint64_t count = bytes_to_value(std::span(segment).subspan(8, 4));
    const std::uint64_t flags = bytes_to_value(std::span(segment).subspan(12, 4));
    if ((flags & block::discard_flag_unmap) != 0 || (flags & ~std::uint64_t{1}) != 0)
        return complete(head, request.status_address, block::status_unsupported, 0);
    const std::uint64_t sectors = m_backend->size() / block::sector_size;
    if (count > max_discard_sectors || sector > sectors || count > sectors - sector)
        return complete(head, request.status_address, block::status_io_error, 0);
    const std::uint64_t status_address = request.status_address;
    m_backend->discard(sector * block::sector_size, count * block::sector_size,
                       [this, head, status_address](Result<void> result) {
                           if (!result) log::warn("virtio-blk: {}", result.error().message);
                           complete(head, status_address,
                                    result ? block::status_ok : block::status_io_error, 0);
                       });
}

void VirtioBlock::complete(std::uint16_t head, std::uint64_t status_address, std::uint8_t status,
                           std::uint64_t written) {
    Virtqueue& queue = *m_activation->queues[0];
    std::uint32_t used = 0;
    if (status_address != 0 || written != 0) {
        (void)m_activation->memory.write(status_address, status);
        used = static_cast<std::uint32_t>(std::min<std::uint64_t>(written + 1, UINT32_MAX));
    }
    if (queue.push(head, used) && queue.needs_interrupt()) m_activation->interrupt.signal_used(0);
}

} // namespace vessel::virtio
