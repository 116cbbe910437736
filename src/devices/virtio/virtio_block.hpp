// VirtioBlock: the virtio block device (virtio 1.2 §5.2) over a BlockBackend.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "backends/block/block_backend.hpp"
#include "backends/block/block_backend_factory.hpp"
#include "devices/virtio/virtio_block_request.hpp"
#include "devices/virtio/virtio_device.hpp"

namespace vessel::virtio {

/// One request queue. Offers BLK_SIZE, SEG_MAX, FLUSH with the writeback cache (the unsafe one
/// acknowledges flushes without syncing, as Firecracker's cache_type Unsafe does), RO for
/// read-only disks and DISCARD where the backend can punch holes. Requests go to the backend as
/// they are popped; their completions (on any thread) write the status byte, push the chain and
/// interrupt. Bad requests get IOERR or UNSUPP; host failures (EIO, ENOSPC, a truncated image) get
/// IOERR.
class VirtioBlock final : public VirtioDevice {
  public:
    static constexpr std::uint16_t type = 2; ///< §5.2.1
    static constexpr std::uint16_t queue_size = 256;
    /// Feature bits (§5.2.3).
    static constexpr std::uint64_t feature_seg_max = 1u << 2;
    static constexpr std::uint64_t feature_read_only = 1u << 5;
    static constexpr std::uint64_t feature_block_size = 1u << 6;
    static constexpr std::uint64_t feature_flush = 1u << 9;
    static constexpr std::uint64_t feature_discard = 1u << 13;
    static constexpr std::uint32_t config_bytes = 60; ///< struct virtio_blk_config up to unused1
    static constexpr std::uint32_t max_discard_sectors = 1u << 22; ///< 2 GiB per segment

    /// id: the serial GET_ID returns (at most 20 bytes are used).
    VirtioBlock(std::unique_ptr<BlockBackend> backend, std::string id,
                BlockCache cache = BlockCache::writeback);
    ~VirtioBlock() override;

    std::string_view name() const override { return "virtio-blk"; }
    std::uint16_t device_type() const override { return type; }
    std::uint32_t pci_class_code() const override { return 0x01'80'00; } // other storage
    std::uint64_t features() const override;
    std::uint16_t queue_count() const override { return 1; }
    std::uint16_t queue_max_size(std::uint16_t) const override { return queue_size; }
    std::uint32_t config_size() const override { return config_bytes; }
    void read_config(std::uint32_t offset, std::span<std::uint8_t> data) override;
    void write_config(std::uint32_t, std::span<const std::uint8_t>) override {}
    Result<void> activate(const VirtioActivation& activation) override;
    void queue_notify(std::uint16_t index) override;
    void reset() override;
    void quiesce() override;
    void release_host_locks() override { m_backend->release_image_lock(); }
    Result<void> retake_host_locks() override { return m_backend->retake_image_lock(); }

  private:
    void start(const DescriptorChain& chain);
    /// Answers a request: status byte, used ring (written = data bytes filled + 1), interrupt.
    void complete(std::uint16_t head, std::uint64_t status_address, std::uint8_t status,
                  std::uint64_t written);
    void handle_discard(std::uint16_t head, const BlockRequest& request);
    std::vector<iovec> host_buffers(const BlockRequest& request) const;

    std::unique_ptr<BlockBackend> m_backend;
    std::string m_id;
    BlockCache m_cache;
    std::optional<VirtioActivation> m_activation;
};

} // namespace vessel::virtio
