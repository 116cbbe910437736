// Virtqueue: well-formed chains, and hostile rings and descriptors that must break the queue.
#include "devices/virtio/virtqueue.hpp"

#include <gtest/gtest.h>

#include "devices/virtio/virtio_test_support.hpp"

using namespace vessel;
using namespace vessel::virtio;
using vessel::testing::RingDriver;

namespace {

struct VirtqueueTest : ::testing::Test {
    GuestMemory memory = GuestMemory::create(1 << 20).value();
    Virtqueue queue{0, 16};
    RingDriver driver{memory, 8};
    std::vector<std::string> errors;

    void activate(bool indirect = true) {
        driver.program(queue);
        ASSERT_TRUE(queue.activate(
            memory, indirect, [this](const std::string& problem) { errors.push_back(problem); }));
    }
    /// Pops once and expects the queue to break with a message containing `expected`.
    void expect_broken(std::string_view expected) {
        EXPECT_FALSE(queue.pop());
        EXPECT_TRUE(queue.broken());
        ASSERT_EQ(errors.size(), 1u);
        EXPECT_NE(errors[0].find(expected), std::string::npos) << errors[0];
        // Broken for good: nothing pops, nothing pushes, no second report.
        driver.descriptor(0, 0x8000, 4, 0);
        driver.publish(0);
        EXPECT_FALSE(queue.pop());
        EXPECT_FALSE(queue.push(0, 0));
        EXPECT_EQ(errors.size(), 1u);
    }
};

} // namespace

TEST_F(VirtqueueTest, PopsAChainAndPushesItBack) {
    activate();
    driver.descriptor(3, 0x8000, 16, ring::descriptor_next, 5);
    driver.descriptor(5, 0x9000, 32, ring::descriptor_next | ring::descriptor_write, 1);
    driver.descriptor(1, 0xa000, 8, ring::descriptor_write);
    EXPECT_FALSE(queue.pop()); // nothing published yet
    driver.publish(3);
    auto chain = queue.pop();
    ASSERT_TRUE(chain);
    EXPECT_EQ(chain->head, 3);
    ASSERT_EQ(chain->readable.size(), 1u);
    EXPECT_EQ(chain->readable[0].address, 0x8000u);
    ASSERT_EQ(chain->writable.size(), 2u);
    EXPECT_EQ(chain->writable_bytes, 40u);
    EXPECT_FALSE(queue.pop());
    ASSERT_TRUE(queue.push(3, 40));
    EXPECT_EQ(driver.used_index(), 1);
    EXPECT_EQ(driver.used_element(0), std::make_pair(3u, 40u));
    EXPECT_TRUE(errors.empty());
}

TEST_F(VirtqueueTest, IndicesWrapAroundTheRing) {
    activate();
    // Walk both 16-bit indices to 0xfffe one chain at a time (the only way a device gets there).
    driver.descriptor(0, 0x8000, 4, ring::descriptor_write);
    for (int round = 0; round < 0xfffe; ++round) {
        driver.publish(0);
        auto chain = queue.pop();
        ASSERT_TRUE(chain);
        ASSERT_TRUE(queue.push(chain->head, 4));
    }
    ASSERT_EQ(driver.avail_index, 0xfffe);
    ASSERT_EQ(driver.used_index(), 0xfffe);
    // Four chains published across the wrap: avail idx 0xfffe, 0xffff, 0x0000, 0x0001.
    const std::uint16_t heads[] = {3, 5, 1, 6};
    for (std::uint16_t head : heads) {
        driver.descriptor(head, 0x8000 + 0x100u * head, 16u * head, ring::descriptor_write);
        driver.publish(head);
    }
    EXPECT_EQ(driver.avail_index, 2);
    for (std::uint16_t head : heads) {
        auto chain = queue.pop();
        ASSERT_TRUE(chain) << "head " << head;
        EXPECT_EQ(chain->head, head);
        ASSERT_EQ(chain->writable.size(), 1u);
        EXPECT_EQ(chain->writable[0].address, 0x8000u + 0x100u * head);
        EXPECT_EQ(chain->writable_bytes, 16u * head);
    }
    EXPECT_FALSE(queue.pop()); // the device caught up at 2, past the wrap
    for (std::uint16_t head : heads)
        ASSERT_TRUE(queue.push(head, 16u * head + 1));
    // Used idx wrapped to 2 and each element sits at its ring slot (position modulo the size).
    EXPECT_EQ(driver.used_index(), 2);
    const std::uint16_t positions[] = {0xfffe, 0xffff, 0x0000, 0x0001};
    for (int index = 0; index < 4; ++index)
        EXPECT_EQ(driver.used_element(positions[index]),
                  std::make_pair(std::uint32_t{heads[index]}, 16u * heads[index] + 1))
            << "used position " << positions[index];
    EXPECT_TRUE(errors.empty());
}

TEST_F(VirtqueueTest, DriverIndexFarAheadOfTheDeviceBreaksTheQueue) {
    activate();
    driver.set_avail_index(0xfffe);
    queue.reset();
    activate();
    // The device starts at 0; a driver 0xfffe ahead is lying about the ring.
    expect_broken("ahead");
}

TEST_F(VirtqueueTest, ManyRoundsWrapTheSixteenBitIndex) {
    activate();
    driver.descriptor(0, 0x8000, 4, ring::descriptor_write);
    for (int round = 0; round < 70000; ++round) {
        driver.publish(0);
        auto chain = queue.pop();
        ASSERT_TRUE(chain);
        ASSERT_TRUE(queue.push(chain->head, 4));
    }
    EXPECT_EQ(driver.used_index(), static_cast<std::uint16_t>(70000));
}

TEST_F(VirtqueueTest, IndirectTablesArePoppedAsOneChain) {
    activate();
    const std::uint64_t table = 0x5000;
    driver.descriptor(0, 0x8000, 10, ring::descriptor_next, 1, table);
    driver.descriptor(1, 0x9000, 20, ring::descriptor_write, 0, table);
    driver.descriptor(2, table, 32, ring::descriptor_indirect);
    driver.publish(2);
    auto chain = queue.pop();
    ASSERT_TRUE(chain);
    EXPECT_EQ(chain->head, 2);
    EXPECT_EQ(chain->readable_bytes, 10u);
    EXPECT_EQ(chain->writable_bytes, 20u);
}

TEST_F(VirtqueueTest, RingsOutsideRamOrMisalignedFailActivation) {
    for (auto [descriptor, avail, used] :
         {std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>{0xffff8, 0x2000, 0x3000},
          {0x1000, 0x100000, 0x3000},
          {0x1000, 0x2000, 0xfffff000ull * 16},
          {0x1008, 0x2000, 0x3000},
          {0x1000, 0x2001, 0x3000},
          {0x1000, 0x2000, 0x3002}}) {
        Virtqueue bad(0, 16);
        bool reported = false;
        driver.program(bad);
        bad.descriptor_address = descriptor;
        bad.driver_address = avail;
        bad.device_address = used;
        EXPECT_FALSE(bad.activate(memory, true, [&](const std::string&) { reported = true; }));
        EXPECT_TRUE(reported);
        EXPECT_TRUE(bad.broken());
        EXPECT_FALSE(bad.pop());
    }
}

TEST_F(VirtqueueTest, SizesOutsideOneToMaxAreRefused) {
    EXPECT_FALSE(queue.set_size(0));
    EXPECT_FALSE(queue.set_size(17));
    EXPECT_FALSE(queue.set_size(12)); // not a power of two
    EXPECT_TRUE(queue.set_size(16));
    EXPECT_TRUE(queue.set_size(1));
    EXPECT_EQ(queue.size(), 1);
}

TEST_F(VirtqueueTest, HeadOutsideTheQueueBreaksIt) {
    activate();
    driver.publish(8);
    expect_broken("outside queue size");
}

TEST_F(VirtqueueTest, NextOutsideTheQueueBreaksIt) {
    activate();
    driver.descriptor(0, 0x8000, 4, ring::descriptor_next, 200);
    driver.publish(0);
    expect_broken("outside queue size");
}

TEST_F(VirtqueueTest, ChainLoopsBreakIt) {
    activate();
    driver.descriptor(0, 0x8000, 4, ring::descriptor_next, 1);
    driver.descriptor(1, 0x8000, 4, ring::descriptor_next, 0);
    driver.publish(0);
    expect_broken("loop");
}

TEST_F(VirtqueueTest, SelfLoopBreaksIt) {
    activate();
    driver.descriptor(4, 0x8000, 4, ring::descriptor_next, 4);
    driver.publish(4);
    expect_broken("loop");
}

TEST_F(VirtqueueTest, BuffersOutsideRamBreakIt) {
    activate();
    driver.descriptor(0, 0xff000, 0x2000, 0); // crosses the end of RAM
    driver.publish(0);
    expect_broken("outside guest RAM");
}

TEST_F(VirtqueueTest, BufferAddressWrapBreaksIt) {
    activate();
    driver.descriptor(0, ~std::uint64_t{0} - 4, 0x100, ring::descriptor_write);
    driver.publish(0);
    expect_broken("outside guest RAM");
}

TEST_F(VirtqueueTest, ReadableAfterWritableBreaksIt) {
    activate();
    driver.descriptor(0, 0x8000, 4, ring::descriptor_next | ring::descriptor_write, 1);
    driver.descriptor(1, 0x9000, 4, 0);
    driver.publish(0);
    expect_broken("follows a device-writable");
}

TEST_F(VirtqueueTest, IndirectWithoutNegotiationBreaksIt) {
    activate(false);
    driver.descriptor(0, 0x5000, 16, ring::descriptor_indirect);
    driver.publish(0);
    expect_broken("not negotiated");
}

TEST_F(VirtqueueTest, IndirectTableProblemsBreakIt) {
    struct Case {
        std::uint64_t table;
        std::uint32_t length;
        std::uint16_t flags;
        const char* expected;
    };
    for (const Case& bad :
         {Case{0x5000, 0, ring::descriptor_indirect, "length"},
          Case{0x5000, 24, ring::descriptor_indirect, "length"},
          Case{0x5000, 16 * 5000, ring::descriptor_indirect, "length"},
          Case{0xffff0, 32, ring::descriptor_indirect, "outside guest RAM"},
          Case{0x5000, 32, ring::descriptor_indirect | ring::descriptor_next, "NEXT"}}) {
        queue.reset();
        errors.clear();
        driver.avail_index = 0;
        activate();
        driver.descriptor(0, bad.table, bad.length, bad.flags, 1);
        driver.descriptor(1, 0x8000, 4, 0);
        driver.publish(0);
        expect_broken(bad.expected);
    }
}

TEST_F(VirtqueueTest, NestedIndirectAndIndirectLoopsBreakIt) {
    const std::uint64_t table = 0x5000;
    activate();
    driver.descriptor(0, 0x6000, 16, ring::descriptor_indirect, 0, table);
    driver.descriptor(0, table, 16, ring::descriptor_indirect);
    driver.publish(0);
    expect_broken("itself indirect");

    queue.reset();
    errors.clear();
    driver.avail_index = 0;
    activate();
    driver.descriptor(0, 0x8000, 4, ring::descriptor_next, 1, table);
    driver.descriptor(1, 0x8000, 4, ring::descriptor_next, 0, table);
    driver.descriptor(0, table, 32, ring::descriptor_indirect);
    driver.publish(0);
    expect_broken("loops");

    queue.reset();
    errors.clear();
    driver.avail_index = 0;
    activate();
    driver.descriptor(0, 0x8000, 4, ring::descriptor_next, 9, table);
    driver.descriptor(0, table, 16, ring::descriptor_indirect);
    driver.publish(0);
    expect_broken("outside its table");
}

TEST_F(VirtqueueTest, IndirectMustBeTheOnlyDescriptor) {
    activate();
    driver.descriptor(0, 0x8000, 4, ring::descriptor_next, 1);
    driver.descriptor(1, 0x5000, 16, ring::descriptor_indirect);
    driver.publish(0);
    expect_broken("only descriptor");
}

TEST_F(VirtqueueTest, PushOfAForeignHeadBreaksIt) {
    activate();
    EXPECT_FALSE(queue.push(8, 0));
    EXPECT_TRUE(queue.broken());
    EXPECT_EQ(errors.size(), 1u);
}

TEST_F(VirtqueueTest, NoInterruptFlagIsHonoured) {
    activate();
    EXPECT_TRUE(queue.needs_interrupt());
    ASSERT_TRUE(memory.write<std::uint16_t>(RingDriver::avail, ring::avail_no_interrupt));
    EXPECT_FALSE(queue.needs_interrupt());
}

TEST_F(VirtqueueTest, PushesReportTheUsedRingAsWritten) {
    struct Recorder final : RamWriteObserver {
        void ram_written(std::uint64_t offset, std::uint64_t length) override {
            last_offset = offset;
            last_length = length;
        }
        std::uint64_t last_offset{0}, last_length{0};
    } recorder;
    activate();
    memory.set_write_observer(&recorder);
    driver.descriptor(0, 0x8000, 4, ring::descriptor_write);
    driver.publish(0);
    ASSERT_TRUE(queue.pop());
    ASSERT_TRUE(queue.push(0, 4));
    EXPECT_LE(recorder.last_offset, RingDriver::used + 2);
    EXPECT_GE(recorder.last_offset + recorder.last_length, RingDriver::used + 4 + 8);
    memory.set_write_observer(nullptr);
}
