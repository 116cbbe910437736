// VirtioNet: frames through real virtqueues in guest memory, a loopback back-end, link status.
#include "devices/virtio/virtio_net.hpp"

#include <gtest/gtest.h>

#include "backends/net/loopback_backend_test_support.hpp"
#include "devices/virtio/virtqueue.hpp"

using namespace vessel;
using namespace vessel::virtio;
using vessel::testing::LoopbackBackend;

namespace {

struct CountingInterrupt final : VirtioInterrupt {
    void signal_used(std::uint16_t queue) override { ++used[queue]; }
    void signal_config() override { ++config; }
    int used[2] = {0, 0};
    int config = 0;
};

constexpr std::uint16_t test_queue_size = 8;

/// The driver side of one split queue laid out at `base` in guest memory.
struct TestQueue {
    GuestMemory& memory;
    Virtqueue queue;
    std::uint64_t base;
    std::uint16_t next_descriptor{0};
    std::uint16_t avail_index{0};

    TestQueue(GuestMemory& guest, std::uint16_t index, std::uint64_t at)
        : memory(guest), queue(index, net::queue_size), base(at) {
        queue.set_size(test_queue_size);
        queue.descriptor_address = base;
        queue.driver_address = base + 0x400;
        queue.device_address = base + 0x800;
        queue.enabled = true;
    }
    std::uint64_t descriptors() const { return base; }
    std::uint64_t avail() const { return base + 0x400; }
    std::uint64_t used() const { return base + 0x800; }

    struct Part {
        std::uint64_t address;
        std::uint32_t length;
        bool device_writes;
    };
    /// Adds a chain of parts to the available ring and returns its head.
    std::uint16_t add(std::initializer_list<Part> parts) {
        const std::uint16_t head = next_descriptor;
        std::size_t remaining = parts.size();
        for (const Part& part : parts) {
            const std::uint16_t index = next_descriptor++;
            const std::uint64_t at = descriptors() + 16ull * index;
            std::uint16_t flags = part.device_writes ? 2 : 0;
            if (--remaining > 0) flags |= 1;
            EXPECT_TRUE(memory.write<std::uint64_t>(at, part.address));
            EXPECT_TRUE(memory.write<std::uint32_t>(at + 8, part.length));
            EXPECT_TRUE(memory.write<std::uint16_t>(at + 12, flags));
            EXPECT_TRUE(memory.write<std::uint16_t>(at + 14, next_descriptor));
        }
        EXPECT_TRUE(
            memory.write<std::uint16_t>(avail() + 4 + 2 * (avail_index % test_queue_size), head));
        EXPECT_TRUE(memory.write<std::uint16_t>(avail() + 2, ++avail_index));
        return head;
    }
    std::uint16_t used_index() const { return *memory.read<std::uint16_t>(used() + 2); }
    /// (id, written length) of used element n.
    std::pair<std::uint32_t, std::uint32_t> used_element(std::uint16_t n) const {
        const std::uint64_t at = used() + 4 + 8ull * n;
        return {*memory.read<std::uint32_t>(at), *memory.read<std::uint32_t>(at + 4)};
    }
};

class VirtioNetTest : public ::testing::Test {
  protected:
    VirtioNetTest()
        : memory(*GuestMemory::create(1 << 20)), receive(memory, 0, 0x1000),
          transmit(memory, 1, 0x2000) {
        auto owned = std::make_unique<LoopbackBackend>();
        backend = owned.get();
        device =
            std::make_unique<VirtioNet>(std::move(owned), *MacAddress::parse("02:00:00:aa:bb:cc"));
    }
    void activate() {
        for (TestQueue* test : {&receive, &transmit})
            ASSERT_TRUE(test->queue.activate(memory, false, [](const std::string&) {}));
        ASSERT_TRUE(device->activate(VirtioActivation{memory,
                                                      {&receive.queue, &transmit.queue},
                                                      feature::version_1 | net::feature_mac,
                                                      interrupt}));
    }
    std::vector<std::uint8_t> guest_bytes(std::uint64_t address, std::size_t length) {
        std::vector<std::uint8_t> bytes(length);
        EXPECT_TRUE(memory.read_bytes(address, bytes));
        return bytes;
    }

    GuestMemory memory;
    TestQueue receive;
    TestQueue transmit;
    CountingInterrupt interrupt;
    LoopbackBackend* backend;
    std::unique_ptr<VirtioNet> device;
};

std::vector<std::uint8_t> pattern(std::size_t length, std::uint8_t seed) {
    std::vector<std::uint8_t> bytes(length);
    for (std::size_t i = 0; i < length; ++i)
        bytes[i] = static_cast<std::uint8_t>(seed + i * 7);
    return bytes;
}

} // namespace

TEST_F(VirtioNetTest, ConfigShowsMacAndLinkStatus) {
    std::array<std::uint8_t, net::config_bytes> config{};
    device->read_config(0, config);
    EXPECT_EQ(config[0], 0x02);
    EXPECT_EQ(config[5], 0xcc);
    EXPECT_EQ(config[net::config_status], net::status_link_up);
    EXPECT_EQ(device->device_type(), 1);
    EXPECT_EQ(device->features() & (net::feature_mac | net::feature_status),
              net::feature_mac | net::feature_status);

    activate();
    device->set_link_up(false);
    device->read_config(net::config_status, std::span(config).first(2));
    EXPECT_EQ(config[0], 0);
    EXPECT_EQ(interrupt.config, 1);
    device->set_link_up(true);
    device->read_config(net::config_status, std::span(config).first(2));
    EXPECT_EQ(config[0], net::status_link_up);
    EXPECT_EQ(interrupt.config, 2);
}

TEST_F(VirtioNetTest, TransmitGathersTheFrameAfterTheHeader) {
    activate();
    const auto frame = pattern(100, 1);
    // Header and the first 30 frame bytes in one buffer, the rest in a second one.
    ASSERT_TRUE(memory.fill(0x10000, 0, net::header_bytes));
    ASSERT_TRUE(memory.write_bytes(0x10000 + net::header_bytes, std::span(frame).first(30)));
    ASSERT_TRUE(memory.write_bytes(0x11000, std::span(frame).subspan(30)));
    const auto head =
        transmit.add({{0x10000, net::header_bytes + 30, false}, {0x11000, 70, false}});
    device->queue_notify(net::transmit_queue);
    ASSERT_EQ(backend->transmitted.size(), 1u);
    EXPECT_EQ(backend->transmitted[0], frame);
    ASSERT_EQ(transmit.used_index(), 1);
    EXPECT_EQ(transmit.used_element(0), (std::pair<std::uint32_t, std::uint32_t>{head, 0}));
    EXPECT_EQ(interrupt.used[net::transmit_queue], 1);
}

TEST_F(VirtioNetTest, TransmitDropsHeaderOnlyChains) {
    activate();
    transmit.add({{0x10000, net::header_bytes, false}});
    transmit.add({{0x10000, 4, false}});
    device->queue_notify(net::transmit_queue);
    EXPECT_TRUE(backend->transmitted.empty());
    EXPECT_EQ(transmit.used_index(), 2); // returned to the driver all the same
}

TEST_F(VirtioNetTest, ReceivedFrameFillsGuestBuffersWithHeader) {
    activate();
    // A 20-byte buffer (header + 8 frame bytes) then a large one.
    const auto head = receive.add({{0x20000, 20, true}, {0x21000, 2048, true}});
    ASSERT_TRUE(memory.fill(0x20000, 0xee, 20));
    const auto frame = pattern(200, 3);
    backend->inject(frame);
    ASSERT_EQ(receive.used_index(), 1);
    EXPECT_EQ(receive.used_element(0),
              (std::pair<std::uint32_t, std::uint32_t>{head, net::header_bytes + 200}));
    auto header = guest_bytes(0x20000, net::header_bytes);
    std::vector<std::uint8_t> expected_header(net::header_bytes, 0);
    expected_header[net::header_num_buffers] = 1;
    EXPECT_EQ(header, expected_header);
    auto first = guest_bytes(0x20000 + net::header_bytes, 8);
    auto rest = guest_bytes(0x21000, 192);
    first.insert(first.end(), rest.begin(), rest.end());
    EXPECT_EQ(first, frame);
    EXPECT_EQ(interrupt.used[net::receive_queue], 1);
}

TEST_F(VirtioNetTest, FramesWaitForReceiveBuffers) {
    activate();
    backend->inject(pattern(60, 9));
    backend->inject(pattern(61, 10));
    EXPECT_EQ(receive.used_index(), 0);
    receive.add({{0x20000, 1600, true}});
    device->queue_notify(net::receive_queue);
    EXPECT_EQ(receive.used_index(), 1);
    EXPECT_EQ(receive.used_element(0).second, net::header_bytes + 60);
    receive.add({{0x21000, 1600, true}});
    device->queue_notify(net::receive_queue);
    EXPECT_EQ(receive.used_index(), 2);
    EXPECT_EQ(receive.used_element(1).second, net::header_bytes + 61);
    EXPECT_FALSE(backend->has_received_frames());
}

TEST_F(VirtioNetTest, TooSmallReceiveBufferDropsTheFrameNotTheQueue) {
    activate();
    receive.add({{0x20000, 64, true}});
    receive.add({{0x21000, 1600, true}});
    backend->inject(pattern(100, 1)); // does not fit 64 bytes: returned empty
    backend->inject(pattern(50, 2));
    ASSERT_EQ(receive.used_index(), 2);
    EXPECT_EQ(receive.used_element(0).second, 0u);
    EXPECT_EQ(receive.used_element(1).second, net::header_bytes + 50);
}

TEST_F(VirtioNetTest, HostileDescriptorsBreakTheQueueNotVessel) {
    activate();
    // A buffer far outside the 1 MiB of guest RAM.
    receive.add({{0xffff'ffff'0000, 1600, true}});
    backend->inject(pattern(60, 1));
    EXPECT_TRUE(receive.queue.broken());
    EXPECT_EQ(receive.used_index(), 0);
    transmit.add({{0x10000, net::header_bytes, false}, {0x1'0000'0000, 100, false}});
    device->queue_notify(net::transmit_queue);
    EXPECT_TRUE(transmit.queue.broken());
    EXPECT_TRUE(backend->transmitted.empty());
}

TEST_F(VirtioNetTest, ResetStopsDeliveryUntilActivatedAgain) {
    activate();
    device->reset();
    receive.add({{0x20000, 1600, true}});
    backend->inject(pattern(60, 1));
    EXPECT_EQ(receive.used_index(), 0);
    EXPECT_TRUE(backend->has_received_frames()); // kept for the next activation
}
