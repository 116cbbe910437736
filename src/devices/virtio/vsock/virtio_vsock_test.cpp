// VirtioVsock: packets through real virtqueues in guest memory, served by the device's thread.
#include "devices/virtio/virtio_test_support.hpp"
#include "devices/virtio/vsock/virtio_vsock.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>

#include "base/state_archive.hpp"
#include <chrono>
#include <cstring>
#include <thread>

using namespace vessel;
using namespace vessel::virtio;
using namespace vessel::virtio::vsock;

namespace {

constexpr std::uint64_t guest = 9;

struct CountingInterrupt final : VirtioInterrupt {
    void signal_used(std::uint16_t queue) override { ++used[queue]; }
    void signal_config() override {}
    std::atomic<int> used[3] = {0, 0, 0};
};

/// A queue of this device's, driven from the test.
struct TestQueue : vessel::testing::TestQueue {
    TestQueue(GuestMemory& guest_memory, std::uint16_t index, std::uint64_t at)
        : vessel::testing::TestQueue(guest_memory, index, at, vsock::queue_size) {}
};

class VirtioVsockTest : public ::testing::Test {
  protected:
    VirtioVsockTest()
        : memory(*GuestMemory::create(1 << 20)), receive(memory, 0, 0x1000),
          transmit(memory, 1, 0x2000), events(memory, 2, 0x3000) {
        path = ::testing::TempDir() + "vessel-virtio-vsock-" + std::to_string(getpid());
        ::unlink(path.c_str());
    }
    void SetUp() override {
        auto created = VirtioVsock::create(guest, path);
        ASSERT_TRUE(created) << created.error().message;
        device = std::move(*created);
        for (TestQueue* test : {&receive, &transmit, &events})
            ASSERT_TRUE(test->queue.activate(memory, false, [](const std::string&) {}));
        ASSERT_TRUE(device->activate(VirtioActivation{
            memory, {&receive.queue, &transmit.queue, &events.queue}, 0, interrupt}));
    }

    /// Sends one packet on the tx queue (header and payload in one buffer at 0x10000).
    void send(const PacketHeader& header) {
        const HeaderBytes bytes = encode_header(header);
        ASSERT_TRUE(memory.write_bytes(0x10000, bytes));
        transmit.add(0x10000, header_bytes + header.length, false);
        device->queue_notify(vsock::transmit_queue);
    }
    /// Posts an rx buffer and waits for the device to fill it; returns its header.
    std::optional<PacketHeader> receive_packet() {
        const std::uint16_t before = receive.used_index();
        receive.add(0x20000, header_bytes + 4096, true);
        device->queue_notify(vsock::receive_queue);
        for (int i = 0; i < 200 && receive.used_index() == before; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (receive.used_index() == before) return std::nullopt;
        std::array<std::uint8_t, header_bytes> bytes{};
        EXPECT_TRUE(memory.read_bytes(0x20000, bytes));
        return decode_header(bytes);
    }
    static PacketHeader guest_packet(Op op, std::uint32_t src_port, std::uint32_t dst_port) {
        PacketHeader header;
        header.src_cid = guest;
        header.dst_cid = host_cid;
        header.src_port = src_port;
        header.dst_port = dst_port;
        header.op = static_cast<std::uint16_t>(op);
        header.buf_alloc = 65536;
        return header;
    }

    GuestMemory memory;
    TestQueue receive;
    TestQueue transmit;
    TestQueue events;
    CountingInterrupt interrupt;
    std::string path;
    std::unique_ptr<VirtioVsock> device;
};

TEST_F(VirtioVsockTest, ConfigHoldsTheGuestCid) {
    std::array<std::uint8_t, 8> config{};
    device->read_config(0, config);
    EXPECT_EQ(config[0], guest);
    EXPECT_EQ(config[1], 0);
    EXPECT_EQ(device->device_type(), 19);
    EXPECT_EQ(device->queue_count(), 3);
}

TEST_F(VirtioVsockTest, ReservedCidIsRefused) {
    auto refused = VirtioVsock::create(2, path + "-other");
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("guest CID 2"), std::string::npos);
}

TEST_F(VirtioVsockTest, BadPacketsGetResetAndTheDeviceCarriesOn) {
    PacketHeader wrong_cid = guest_packet(Op::request, 1000, 80);
    wrong_cid.src_cid = 77;
    send(wrong_cid);
    auto reply = receive_packet();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->operation(), Op::rst);
    EXPECT_EQ(reply->dst_port, 1000u);
    EXPECT_EQ(reply->src_port, 80u);

    PacketHeader oversized = guest_packet(Op::rw, 1001, 80);
    oversized.length = 1 << 24; // far beyond the chain and the 64 KiB maximum
    const HeaderBytes bytes = encode_header(oversized);
    ASSERT_TRUE(memory.write_bytes(0x10000, bytes));
    transmit.add(0x10000, header_bytes, false);
    device->queue_notify(vsock::transmit_queue);
    reply = receive_packet();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->operation(), Op::rst);
    EXPECT_EQ(reply->dst_port, 1001u);

    // A chain too short for a header is consumed without an answer.
    transmit.add(0x10000, 10, false);
    device->queue_notify(vsock::transmit_queue);
    for (int i = 0; i < 200 && transmit.used_index() != 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(transmit.used_index(), 3);
    EXPECT_GE(device->refused_packets(), 2u);
}

TEST_F(VirtioVsockTest, QuiescedDeviceLeavesTheRingsAloneUntilResumed) {
    device->quiesce();
    receive.add(0x20000, header_bytes + 4096, true);
    send(guest_packet(Op::request, 1000, 80)); // nothing listens: answered with RST
    device->queue_notify(vsock::receive_queue);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(transmit.used_index(), 0);
    EXPECT_EQ(receive.used_index(), 0);
    device->resume_io();
    for (int i = 0; i < 200 && receive.used_index() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(transmit.used_index(), 1);
    ASSERT_EQ(receive.used_index(), 1);
    std::array<std::uint8_t, header_bytes> bytes{};
    ASSERT_TRUE(memory.read_bytes(0x20000, bytes));
    EXPECT_EQ(decode_header(bytes).operation(), Op::rst);
}

TEST_F(VirtioVsockTest, RestoredDeviceSendsATransportResetEventOnceABufferIsPosted) {
    // As the transport restores it: loaded before it is activated again.
    device->reset();
    StateReader reader({});
    device->load_device_state(reader);
    ASSERT_TRUE(reader.finish("vsock"));
    ASSERT_TRUE(device->activate(
        VirtioActivation{memory, {&receive.queue, &transmit.queue, &events.queue}, 0, interrupt}));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(device->reset_events(), 0u); // no event buffer yet
    ASSERT_TRUE(memory.write<std::uint32_t>(0x30000, 0xffffffff));
    events.add(0x30000, 4, true);
    device->queue_notify(vsock::event_queue);
    for (int i = 0; i < 200 && events.used_index() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(events.used_index(), 1);
    EXPECT_EQ(*memory.read<std::uint32_t>(0x30000), 0u); // VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
    EXPECT_EQ(device->reset_events(), 1u);
    EXPECT_GE(interrupt.used[vsock::event_queue].load(), 1);
    // Once only.
    events.add(0x30000, 4, true);
    device->queue_notify(vsock::event_queue);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(events.used_index(), 1);
}

TEST_F(VirtioVsockTest, GuestConnectIsAnsweredWithResponse) {
    const std::string listen_path = path + "_80";
    ::unlink(listen_path.c_str());
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, listen_path.data(), listen_path.size());
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ASSERT_EQ(::listen(listener.get(), 1), 0);
    send(guest_packet(Op::request, 1000, 80));
    auto reply = receive_packet();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->operation(), Op::response);
    EXPECT_EQ(reply->dst_cid, guest);
    EXPECT_GT(interrupt.used[vsock::receive_queue].load(), 0);
    device->reset(); // closes the connection; the device stays usable for a new activation
    ::unlink(listen_path.c_str());
}

} // namespace
