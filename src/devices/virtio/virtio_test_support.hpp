// Helpers for virtio unit tests: a driver-side view of a split ring in real guest memory.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/virtio/virtqueue.hpp"
#include "memory/guest_memory.hpp"

namespace vessel::testing {

/// Lays out a split ring (descriptors at 0x1000, available at 0x2000, used at 0x3000) and
/// plays the driver: writes descriptors, publishes heads, reads used elements.
struct RingDriver {
    static constexpr std::uint64_t descriptors = 0x1000;
    static constexpr std::uint64_t avail = 0x2000;
    static constexpr std::uint64_t used = 0x3000;

    GuestMemory& memory;
    std::uint16_t size;
    std::uint16_t avail_index{0};

    void program(virtio::Virtqueue& queue) const {
        queue.set_size(size);
        queue.descriptor_address = descriptors;
        queue.driver_address = avail;
        queue.device_address = used;
        queue.enabled = true;
    }
    void descriptor(std::uint16_t index, std::uint64_t address, std::uint32_t length,
                    std::uint16_t flags, std::uint16_t next = 0,
                    std::uint64_t table = descriptors) {
        const std::uint64_t at = table + 16ull * index;
        (void)memory.write<std::uint64_t>(at, address);
        (void)memory.write<std::uint32_t>(at + 8, length);
        (void)memory.write<std::uint16_t>(at + 12, flags);
        (void)memory.write<std::uint16_t>(at + 14, next);
    }
    void publish(std::uint16_t head) {
        (void)memory.write<std::uint16_t>(avail + 4 + 2ull * (avail_index % size), head);
        ++avail_index;
        (void)memory.write<std::uint16_t>(avail + 2, avail_index);
    }
    void set_avail_index(std::uint16_t index) {
        avail_index = index;
        (void)memory.write<std::uint16_t>(avail + 2, index);
    }
    std::uint16_t used_index() const { return memory.read<std::uint16_t>(used + 2).value(); }
    std::pair<std::uint32_t, std::uint32_t> used_element(std::uint16_t position) const {
        const std::uint64_t at = used + 4 + 8ull * (position % size);
        return {memory.read<std::uint32_t>(at).value(), memory.read<std::uint32_t>(at + 4).value()};
    }
};

} // namespace vessel::testing
