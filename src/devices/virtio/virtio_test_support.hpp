// Helpers for virtio unit tests: a driver-side view of a split ring in real guest memory.
#pragma once

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

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

/// The driver side of one of several split queues of a device, each laid out at its own `base`
/// (descriptors there, available ring at +0x400, used ring at +0x800), 8 entries long.
struct TestQueue {
    static constexpr std::uint16_t size = 8;

    GuestMemory& memory;
    virtio::Virtqueue queue;
    std::uint64_t base;
    std::uint16_t next_descriptor{0};
    std::uint16_t avail_index{0};

    /// `max_size`: the largest size the device offers for its queues.
    TestQueue(GuestMemory& guest_memory, std::uint16_t index, std::uint64_t at,
              std::uint16_t max_size)
        : memory(guest_memory), queue(index, max_size), base(at) {
        queue.set_size(size);
        queue.descriptor_address = base;
        queue.driver_address = base + 0x400;
        queue.device_address = base + 0x800;
        queue.enabled = true;
    }
    /// Posts a one-descriptor chain and returns its head.
    std::uint16_t add(std::uint64_t address, std::uint32_t length, bool device_writes = false) {
        const std::uint16_t head = next_descriptor++ % size;
        const std::uint64_t at = base + 16ull * head;
        EXPECT_TRUE(memory.write<std::uint64_t>(at, address));
        EXPECT_TRUE(memory.write<std::uint32_t>(at + 8, length));
        EXPECT_TRUE(memory.write<std::uint16_t>(at + 12, device_writes ? 2 : 0));
        EXPECT_TRUE(memory.write<std::uint16_t>(at + 14, 0));
        EXPECT_TRUE(memory.write<std::uint16_t>(base + 0x400 + 4 + 2 * (avail_index % size), head));
        EXPECT_TRUE(memory.write<std::uint16_t>(base + 0x400 + 2, ++avail_index));
        return head;
    }
    std::uint16_t used_index() const { return *memory.read<std::uint16_t>(base + 0x800 + 2); }
    std::uint32_t used_head(std::uint16_t position) const {
        return *memory.read<std::uint32_t>(base + 0x800 + 4 + 8 * (position % size));
    }
};

} // namespace vessel::testing
