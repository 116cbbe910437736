// VirtioConsole: output from transmitq0, host input into receiveq0, config, reset, transport IDs.
#include "devices/virtio/virtio_console.hpp"

#include <gtest/gtest.h>

#include <string>

#include "devices/pci/pci_test_support.hpp"
#include "devices/virtio/virtio_pci_device.hpp"
#include "devices/virtio/virtqueue.hpp"

using namespace vessel;
using namespace vessel::virtio;

namespace {

struct CountingInterrupt final : VirtioInterrupt {
    void signal_used(std::uint16_t queue) override { ++used[queue]; }
    void signal_config() override { ++config; }
    std::uint32_t used[2] = {0, 0};
    std::uint32_t config{0};
};

/// The driver side of one split ring of 8 entries: descriptors at base, available ring at
/// base + 0x100, used ring at base + 0x200.
struct Ring {
    GuestMemory& memory;
    std::uint64_t base;
    static constexpr std::uint16_t size = 8;
    std::uint16_t avail_index{0};

    void program(Virtqueue& queue) const {
        queue.set_size(size);
        queue.descriptor_address = base;
        queue.driver_address = base + 0x100;
        queue.device_address = base + 0x200;
        queue.enabled = true;
    }
    void post(std::uint16_t index, std::uint64_t address, std::uint32_t length,
              std::uint16_t flags) {
        const std::uint64_t at = base + 16ull * index;
        (void)memory.write<std::uint64_t>(at, address);
        (void)memory.write<std::uint32_t>(at + 8, length);
        (void)memory.write<std::uint16_t>(at + 12, flags);
        (void)memory.write<std::uint16_t>(at + 14, static_cast<std::uint16_t>(index + 1));
    }
    void publish(std::uint16_t head) {
        (void)memory.write<std::uint16_t>(base + 0x104 + 2ull * (avail_index % size), head);
        ++avail_index;
        (void)memory.write<std::uint16_t>(base + 0x102, avail_index);
    }
    std::uint16_t used_index() const { return memory.read<std::uint16_t>(base + 0x202).value(); }
    std::pair<std::uint32_t, std::uint32_t> used_element(std::uint16_t position) const {
        const std::uint64_t at = base + 0x204 + 8ull * (position % size);
        return {memory.read<std::uint32_t>(at).value(), memory.read<std::uint32_t>(at + 4).value()};
    }
};

std::span<const std::uint8_t> bytes_of(std::string_view text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

struct VirtioConsoleTest : ::testing::Test {
    GuestMemory memory = GuestMemory::create(1 << 20).value();
    std::string output;
    VirtioConsole console{[this](std::span<const std::uint8_t> bytes) {
        output.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }};
    Virtqueue receive{VirtioConsole::receive_queue, VirtioConsole::queue_size};
    Virtqueue transmit{VirtioConsole::transmit_queue, VirtioConsole::queue_size};
    Ring receive_ring{memory, 0x1000};
    Ring transmit_ring{memory, 0x2000};
    CountingInterrupt interrupt;
    std::vector<std::string> errors;

    void activate() {
        receive_ring.program(receive);
        transmit_ring.program(transmit);
        auto on_error = [this](const std::string& problem) { errors.push_back(problem); };
        ASSERT_TRUE(receive.activate(memory, false, on_error));
        ASSERT_TRUE(transmit.activate(memory, false, on_error));
        ASSERT_TRUE(
            console.activate({memory, {&receive, &transmit}, feature::version_1, interrupt}));
    }
    std::string guest_text(std::uint64_t address, std::size_t length) const {
        std::string text(length, '\0');
        EXPECT_TRUE(memory.read_bytes(address,
                                      {reinterpret_cast<std::uint8_t*>(text.data()), text.size()}));
        return text;
    }
};

} // namespace

TEST_F(VirtioConsoleTest, TransmittedChainsReachTheOutputInOrder) {
    activate();
    ASSERT_TRUE(memory.write_bytes(0x8000, bytes_of("hello ")));
    ASSERT_TRUE(memory.write_bytes(0x9000, bytes_of("hvc0\n")));
    transmit_ring.post(0, 0x8000, 6, ring::descriptor_next); // one chain of two buffers
    transmit_ring.post(1, 0x9000, 5, 0);
    transmit_ring.publish(0);
    ASSERT_TRUE(memory.write_bytes(0xa000, bytes_of("$ ")));
    transmit_ring.post(2, 0xa000, 2, 0);
    transmit_ring.publish(2);
    console.queue_notify(VirtioConsole::transmit_queue);
    EXPECT_EQ(output, "hello hvc0\n$ ");
    EXPECT_EQ(transmit_ring.used_index(), 2);
    EXPECT_EQ(transmit_ring.used_element(0), std::make_pair(0u, 0u)); // device wrote nothing
    EXPECT_EQ(transmit_ring.used_element(1), std::make_pair(2u, 0u));
    EXPECT_EQ(interrupt.used[VirtioConsole::transmit_queue], 1u);
    EXPECT_EQ(interrupt.used[VirtioConsole::receive_queue], 0u);
}

TEST_F(VirtioConsoleTest, InputFillsPostedBuffersAcrossChains) {
    activate();
    receive_ring.post(0, 0x8000, 4, ring::descriptor_write);
    receive_ring.publish(0);
    receive_ring.post(1, 0x9000, 64, ring::descriptor_write);
    receive_ring.publish(1);
    EXPECT_EQ(console.enqueue_input(bytes_of("ls -l\n")), 6u);
    EXPECT_EQ(guest_text(0x8000, 4), "ls -");
    EXPECT_EQ(guest_text(0x9000, 2), "l\n");
    ASSERT_EQ(receive_ring.used_index(), 2);
    EXPECT_EQ(receive_ring.used_element(0), std::make_pair(0u, 4u));
    EXPECT_EQ(receive_ring.used_element(1), std::make_pair(1u, 2u));
    EXPECT_EQ(interrupt.used[VirtioConsole::receive_queue], 1u);
    EXPECT_EQ(console.enqueue_input(bytes_of("x")), 1u); // held: no buffer left
    EXPECT_EQ(receive_ring.used_index(), 2);
}

TEST_F(VirtioConsoleTest, InputWaitsForReceiveBuffersAndIsBounded) {
    // Typed before the driver is up: kept, delivered once a buffer is posted and notified.
    EXPECT_EQ(console.enqueue_input(bytes_of("early")), 5u);
    activate();
    EXPECT_EQ(receive_ring.used_index(), 0);
    receive_ring.post(0, 0x8000, 16, ring::descriptor_write);
    receive_ring.publish(0);
    console.queue_notify(VirtioConsole::receive_queue);
    ASSERT_EQ(receive_ring.used_index(), 1);
    EXPECT_EQ(receive_ring.used_element(0), std::make_pair(0u, 5u));
    EXPECT_EQ(guest_text(0x8000, 5), "early");
    // With no buffer posted, at most max_pending_input bytes are taken; the caller retries.
    const std::string flood(VirtioConsole::max_pending_input + 100, 'z');
    EXPECT_EQ(console.enqueue_input(bytes_of(flood)), VirtioConsole::max_pending_input);
    EXPECT_EQ(console.enqueue_input(bytes_of("more")), 0u);
}

TEST_F(VirtioConsoleTest, ReadOnlyBuffersInTheReceiveQueueGetNothing) {
    activate();
    ASSERT_TRUE(memory.write_bytes(0x8000, bytes_of("keep")));
    receive_ring.post(0, 0x8000, 4, 0); // device-readable: not a receive buffer
    receive_ring.publish(0);
    EXPECT_EQ(console.enqueue_input(bytes_of("abcd")), 4u);
    EXPECT_EQ(guest_text(0x8000, 4), "keep");
    ASSERT_EQ(receive_ring.used_index(), 1);
    EXPECT_EQ(receive_ring.used_element(0), std::make_pair(0u, 0u));
}

TEST_F(VirtioConsoleTest, HostileTransmitChainOutputsNothingAndBreaksTheQueue) {
    activate();
    transmit_ring.post(0, 0xff000, 0x2000, 0); // runs past the end of the 1 MiB of RAM
    transmit_ring.publish(0);
    console.queue_notify(VirtioConsole::transmit_queue);
    EXPECT_TRUE(output.empty());
    EXPECT_TRUE(transmit.broken());
    EXPECT_EQ(errors.size(), 1u);
    EXPECT_EQ(transmit_ring.used_index(), 0);
}

TEST_F(VirtioConsoleTest, ResetForgetsTheQueues) {
    activate();
    console.reset();
    receive_ring.post(0, 0x8000, 16, ring::descriptor_write);
    receive_ring.publish(0);
    EXPECT_EQ(console.enqueue_input(bytes_of("late")), 4u);
    console.queue_notify(VirtioConsole::receive_queue);
    ASSERT_TRUE(memory.write_bytes(0x9000, bytes_of("x")));
    transmit_ring.post(0, 0x9000, 1, 0);
    transmit_ring.publish(0);
    console.queue_notify(VirtioConsole::transmit_queue);
    EXPECT_EQ(receive_ring.used_index(), 0);
    EXPECT_EQ(transmit_ring.used_index(), 0);
    EXPECT_TRUE(output.empty());
}

TEST_F(VirtioConsoleTest, ConfigAnnouncesOnePort) {
    std::uint8_t config[VirtioConsole::config_bytes];
    console.read_config(0, config);
    EXPECT_EQ(bytes_to_value(std::span(config).subspan(0, 4)), 0u); // cols, rows
    EXPECT_EQ(bytes_to_value(std::span(config).subspan(4, 4)), 1u); // max_nr_ports
    EXPECT_EQ(bytes_to_value(std::span(config).subspan(8, 4)), 0u); // emerg_wr
    std::uint8_t tail[2];
    console.read_config(4, tail);
    EXPECT_EQ(tail[0], 1u);
}

TEST(VirtioConsolePci, IsAModernConsoleFunctionWithTwoQueuesAndAConfigStructure) {
    GuestMemory memory = GuestMemory::create(1 << 20).value();
    vessel::testing::PciHarness pci;
    VirtioConsole console{[](std::span<const std::uint8_t>) {}};
    VirtioPciDevice transport{console, memory, nullptr};
    const std::uint32_t slot = pci.bus.add(transport).value();
    EXPECT_EQ(pci.config_read(slot, 0), 0x1043'1af4u); // 0x1040 + 3
    EXPECT_EQ(pci.config_read(slot, 0x08) >> 8, 0x07'80'00u);
    bool device_config = false;
    for (std::uint32_t cap = pci.config_read(slot, 0x34, 1); cap != 0;
         cap = pci.config_read(slot, cap + 1, 1))
        if (pci.config_read(slot, cap, 1) == 0x09 && pci.config_read(slot, cap + 3, 1) == 4) {
            device_config = true;
            EXPECT_EQ(pci.config_read(slot, cap + 12), VirtioConsole::config_bytes);
        }
    EXPECT_TRUE(device_config);
    const std::uint64_t bar = pci.config_read(slot, 0x10) & ~0xfu;
    pci.config_write(slot, 0x04, pci::config::command_memory_space, 2);
    EXPECT_EQ(pci.mmio_read(bar + 0x12, 2), 2u); // num_queues
    EXPECT_EQ(pci.mmio_read(bar + pci_layout::device_offset + 4, 4), 1u);
}
