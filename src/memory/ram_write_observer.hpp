// RamWriteObserver: told when something other than a vCPU store wrote guest RAM (device DMA).
#pragma once

#include <cstdint>

namespace vessel {

/// Watches writes into guest RAM that do not come from a vCPU's own stores: devices filling
/// guest buffers, virtqueue used rings, loaders. The software engine uses it to drop decoded
/// code of the written pages; it is also where dirty-page tracking for live migration hooks in.
/// Ranges are given as offsets into GuestMemory's single host mapping (unique per RAM page).
class RamWriteObserver {
  public:
    virtual ~RamWriteObserver() = default;
    /// [host_offset, host_offset + length) of the RAM mapping was written. Any thread.
    virtual void ram_written(std::uint64_t host_offset, std::uint64_t length) = 0;
};

} // namespace vessel
