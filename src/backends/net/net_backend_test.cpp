// NetBackend: the receive queue, its bound, link state and the receive notifier.
#include "backends/net/net_backend.hpp"

#include <gtest/gtest.h>

#include "backends/net/loopback_backend_test_support.hpp"

using namespace vessel;
using vessel::testing::LoopbackBackend;

TEST(NetBackend, SendAndReceiveInOrder) {
    LoopbackBackend backend;
    int notifications = 0;
    backend.set_receive_notifier([&] {
        ++notifications;
        EXPECT_TRUE(backend.has_received_frames()); // the frame is queued before the notifier
    });
    const std::vector<std::uint8_t> first{1, 2, 3}, second{4, 5};
    backend.inject(first);
    backend.inject(second);
    EXPECT_EQ(notifications, 2);
    EXPECT_EQ(backend.receive(), first);
    EXPECT_EQ(backend.receive(), second);
    EXPECT_EQ(backend.receive(), std::nullopt);

    backend.send(first);
    ASSERT_EQ(backend.transmitted.size(), 1u);
    EXPECT_EQ(backend.transmitted[0], first);
}

TEST(NetBackend, LinkDownDropsBothWaysAndEmptiesTheQueue) {
    LoopbackBackend backend;
    const std::vector<std::uint8_t> frame{1, 2, 3};
    backend.inject(frame);
    backend.set_link_up(false);
    EXPECT_FALSE(backend.link_up());
    EXPECT_FALSE(backend.has_received_frames());
    backend.inject(frame);
    backend.send(frame);
    EXPECT_FALSE(backend.has_received_frames());
    EXPECT_TRUE(backend.transmitted.empty());
    EXPECT_EQ(backend.dropped_frames(), 2u);
    backend.set_link_up(true);
    backend.send(frame);
    EXPECT_EQ(backend.transmitted.size(), 1u);
}

TEST(NetBackend, QueueIsBoundedAndOversizedFramesDropped) {
    LoopbackBackend backend;
    const std::vector<std::uint8_t> frame{0xaa};
    for (std::size_t i = 0; i < NetBackend::max_queued_frames + 5; ++i)
        backend.inject(frame);
    EXPECT_EQ(backend.dropped_frames(), 5u);
    const std::vector<std::uint8_t> huge(NetBackend::max_frame_size + 1);
    backend.send(huge);
    backend.send(std::vector<std::uint8_t>{});
    EXPECT_TRUE(backend.transmitted.empty());
    EXPECT_EQ(backend.dropped_frames(), 7u);
    std::size_t received = 0;
    while (backend.receive())
        ++received;
    EXPECT_EQ(received, NetBackend::max_queued_frames);
}
