// VirtioBalloon: inflate, deflate, free page reporting and statistics through real virtqueues.
#include "devices/virtio/balloon/virtio_balloon.hpp"
#include "devices/virtio/virtio_test_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/state_archive.hpp"
#include "devices/virtio/virtqueue.hpp"

using namespace vessel;
using namespace vessel::virtio;

namespace {

constexpr std::uint64_t memory_size = 4 << 20;
constexpr std::uint64_t page = VirtioBalloon::page_size;

struct CountingInterrupt final : VirtioInterrupt {
    void signal_used(std::uint16_t queue) override { ++used[queue]; }
    void signal_config() override { ++config; }
    std::atomic<int> used[4] = {0, 0, 0, 0};
    std::atomic<int> config{0};
};

/// A queue of this device's, driven from the test.
struct TestQueue : vessel::testing::TestQueue {
    TestQueue(GuestMemory& guest_memory, std::uint16_t index, std::uint64_t at)
        : vessel::testing::TestQueue(guest_memory, index, at, VirtioBalloon::queue_size) {}
};

class VirtioBalloonTest : public ::testing::Test {
  protected:
    static constexpr std::uint64_t pfn_list = 0x10000; ///< where PFN arrays are written
    static constexpr std::uint64_t data = 0x100000;    ///< first page the tests give away

    VirtioBalloonTest()
        : memory(*GuestMemory::create(memory_size)), queues{{memory, 0, 0x1000},
                                                            {memory, 1, 0x2000},
                                                            {memory, 2, 0x3000},
                                                            {memory, 3, 0x4000}} {}

    /// Builds the device and activates it with `queue_count` queues and `negotiated` features.
    void start(BalloonOptions options, std::uint64_t negotiated) {
        device = std::make_unique<VirtioBalloon>(options, memory_size);
        VirtioActivation activation{memory, {}, negotiated, interrupt};
        for (std::uint16_t index = 0; index < device->queue_count(); ++index) {
            ASSERT_TRUE(queues[index].queue.activate(memory, false, [](const std::string&) {}));
            activation.queues.push_back(&queues[index].queue);
        }
        ASSERT_TRUE(device->activate(activation));
    }
    /// Sends PFNs on inflateq (0) or deflateq (1) and lets the device process them.
    void send_pfns(std::uint16_t queue, std::vector<std::uint32_t> pfns) {
        for (std::size_t i = 0; i < pfns.size(); ++i)
            ASSERT_TRUE(memory.write<std::uint32_t>(pfn_list + 4 * i, pfns[i]));
        const std::uint16_t before = queues[queue].used_index();
        queues[queue].add(pfn_list, static_cast<std::uint32_t>(4 * pfns.size()));
        device->queue_notify(queue);
        EXPECT_EQ(queues[queue].used_index(), before + 1);
    }
    std::uint8_t byte_at(std::uint64_t address) { return *memory.read<std::uint8_t>(address); }
    static std::uint32_t pfn(std::uint64_t address) {
        return static_cast<std::uint32_t>(address / page);
    }

    GuestMemory memory;
    TestQueue queues[4];
    CountingInterrupt interrupt;
    std::unique_ptr<VirtioBalloon> device;
};

TEST_F(VirtioBalloonTest, OffersOnlyTheFeaturesAndQueuesAskedFor) {
    VirtioBalloon plain({}, memory_size);
    EXPECT_EQ(plain.device_type(), 5);
    EXPECT_EQ(plain.features(), 0u);
    EXPECT_EQ(plain.queue_count(), 2);
    VirtioBalloon full({0, true, 5, true}, memory_size);
    EXPECT_EQ(full.features(), balloon_feature::stats_vq | balloon_feature::deflate_on_oom |
                                   balloon_feature::page_reporting);
    EXPECT_EQ(full.queue_count(), 4);
}

TEST_F(VirtioBalloonTest, ConfigShowsTargetAndTakesTheDriversActual) {
    start({256, false, 0, false}, 0);
    std::uint32_t words[4] = {1, 1, 1, 1};
    device->read_config(0, {reinterpret_cast<std::uint8_t*>(words), sizeof(words)});
    EXPECT_EQ(words[0], 256u);
    EXPECT_EQ(words[1], 0u);
    EXPECT_EQ(words[2], 0u);
    std::uint32_t actual = 200;
    device->write_config(4, {reinterpret_cast<const std::uint8_t*>(&actual), 4});
    EXPECT_EQ(device->actual_pages(), 200u);
    // num_pages is the device's: a driver write is ignored.
    device->write_config(0, {reinterpret_cast<const std::uint8_t*>(&actual), 4});
    EXPECT_EQ(device->target_pages(), 256u);
    // Reads beyond the structure are zero, not out of bounds.
    std::uint8_t beyond[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    device->read_config(12, beyond);
    EXPECT_EQ(beyond[7], 0);

    device->set_target_pages(512);
    EXPECT_EQ(interrupt.config.load(), 1);
    device->read_config(0, {reinterpret_cast<std::uint8_t*>(words), 4});
    EXPECT_EQ(words[0], 512u);
}

TEST_F(VirtioBalloonTest, InflatedPagesReadAsZeroAndDeflateGivesThemBack) {
    start({}, 0);
    ASSERT_TRUE(memory.fill(data, 0xab, 4 * page));
    send_pfns(0, {pfn(data), pfn(data + 2 * page)});
    EXPECT_EQ(byte_at(data), 0);
    EXPECT_EQ(byte_at(data + page), 0xab);
    EXPECT_EQ(byte_at(data + 2 * page + page - 1), 0);
    EXPECT_EQ(byte_at(data + 3 * page), 0xab);
    EXPECT_EQ(interrupt.used[0].load(), 1);
    EXPECT_EQ(device->counters().inflated_pages, 2u);

    send_pfns(1, {pfn(data)});
    EXPECT_EQ(device->counters().deflated_pages, 1u);
    // The guest owns the page again and what it writes stays.
    ASSERT_TRUE(memory.write<std::uint32_t>(data, 0x12345678));
    EXPECT_EQ(*memory.read<std::uint32_t>(data), 0x12345678u);
    // Inflating it again discards it again.
    send_pfns(0, {pfn(data)});
    EXPECT_EQ(*memory.read<std::uint32_t>(data), 0u);
    EXPECT_EQ(device->counters().inflated_pages, 3u);
}

TEST_F(VirtioBalloonTest, BadPfnsAreIgnoredAndCounted) {
    start({}, 0);
    ASSERT_TRUE(memory.fill(data, 0xcd, page));
    // Beyond RAM, the very last PFN (whose address needs 44 bits), and a duplicate.
    send_pfns(0, {pfn(memory_size), 0xffffffff, pfn(data), pfn(data)});
    auto counters = device->counters();
    EXPECT_EQ(counters.invalid_pfns, 2u);
    EXPECT_EQ(counters.duplicate_pfns, 1u);
    EXPECT_EQ(counters.inflated_pages, 1u);
    // Deflating a page that is not in the balloon changes nothing.
    send_pfns(1, {pfn(data + page), pfn(memory_size + page)});
    counters = device->counters();
    EXPECT_EQ(counters.duplicate_pfns, 2u);
    EXPECT_EQ(counters.invalid_pfns, 3u);
    EXPECT_EQ(counters.deflated_pages, 0u);
    // A list whose length is no multiple of 4: the whole PFNs count, the tail is ignored.
    ASSERT_TRUE(memory.write<std::uint32_t>(pfn_list, pfn(data + 3 * page)));
    queues[0].add(pfn_list, 6);
    device->queue_notify(0);
    counters = device->counters();
    EXPECT_EQ(counters.malformed_buffers, 1u);
    EXPECT_EQ(counters.inflated_pages, 2u);
}

TEST_F(VirtioBalloonTest, AResetEmptiesTheBalloon) {
    start({}, 0);
    send_pfns(0, {pfn(data)});
    device->reset();
    EXPECT_FALSE(device->active());
    device->queue_notify(0); // reaches nothing after a reset
    // A new driver starts with an empty balloon: inflating the page again is no duplicate.
    TestQueue inflate(memory, 0, 0x5000), deflate(memory, 1, 0x6000);
    ASSERT_TRUE(inflate.queue.activate(memory, false, [](const std::string&) {}));
    ASSERT_TRUE(deflate.queue.activate(memory, false, [](const std::string&) {}));
    ASSERT_TRUE(device->activate({memory, {&inflate.queue, &deflate.queue}, 0, interrupt}));
    ASSERT_TRUE(memory.write<std::uint32_t>(pfn_list, pfn(data)));
    inflate.add(pfn_list, 4);
    device->queue_notify(0);
    EXPECT_EQ(inflate.used_index(), 1);
    EXPECT_EQ(device->counters().duplicate_pfns, 0u);
    EXPECT_EQ(device->counters().inflated_pages, 2u);
}

TEST_F(VirtioBalloonTest, FreePageReportsDiscardWholePagesOnly) {
    // Statistics not negotiated: reporting_vq is queue 2 (absent queues take no index).
    start({0, false, 0, true}, balloon_feature::page_reporting);
    ASSERT_TRUE(memory.fill(data, 0x77, 8 * page));
    queues[2].add(data, 4 * page, true);
    queues[2].add(data + 4 * page + 100, 2 * page, true); // covers one whole page only
    device->queue_notify(2);
    EXPECT_EQ(queues[2].used_index(), 2);
    EXPECT_EQ(interrupt.used[2].load(), 1);
    for (std::uint64_t offset = 0; offset < 4 * page; offset += page)
        EXPECT_EQ(byte_at(data + offset), 0);
    EXPECT_EQ(byte_at(data + 5 * page - 1), 0x77);
    EXPECT_EQ(byte_at(data + 5 * page), 0);
    EXPECT_EQ(byte_at(data + 6 * page), 0x77);
    auto counters = device->counters();
    EXPECT_EQ(counters.reported_pages, 5u);
    EXPECT_EQ(counters.reports, 2u);
    // Reported pages are not in the balloon: deflating them is a driver error.
    send_pfns(1, {pfn(data)});
    EXPECT_EQ(device->counters().duplicate_pfns, 1u);
}

TEST_F(VirtioBalloonTest, StatisticsAreParsedAndTheBufferReturnedOnTheTimer) {
    start({0, false, 1, true}, balloon_feature::stats_vq | balloon_feature::page_reporting);
    struct __attribute__((packed)) Entry {
        std::uint16_t tag;
        std::uint64_t value;
    };
    static_assert(sizeof(Entry) == BalloonStatistics::entry_size);
    const Entry entries[] = {{5, 512ull << 20}, {4, 300ull << 20}, {6, 400ull << 20}, {99, 1}};
    ASSERT_TRUE(memory.write_bytes(
        pfn_list, {reinterpret_cast<const std::uint8_t*>(entries), sizeof(entries)}));
    EXPECT_FALSE(device->statistics());
    const std::uint16_t head = queues[2].add(pfn_list, sizeof(entries));
    device->queue_notify(2);
    auto statistics = device->statistics();
    ASSERT_TRUE(statistics);
    EXPECT_EQ((*statistics)[BalloonStatistic::total_memory], 512ull << 20);
    EXPECT_EQ((*statistics)[BalloonStatistic::free_memory], 300ull << 20);
    EXPECT_EQ((*statistics)[BalloonStatistic::available_memory], 400ull << 20);
    EXPECT_FALSE((*statistics)[BalloonStatistic::swap_in]);
    // The device holds the buffer until the interval passes, then hands it back.
    EXPECT_EQ(queues[2].used_index(), 0);
    for (int waited = 0; waited < 300 && queues[2].used_index() == 0; ++waited)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(queues[2].used_index(), 1);
    EXPECT_EQ(queues[2].used_head(0), head);
    EXPECT_EQ(interrupt.used[2].load(), 1);
    // reporting_vq follows statsq.
    queues[3].add(data, page, true);
    device->queue_notify(3);
    EXPECT_EQ(device->counters().reported_pages, 1u);
}

TEST_F(VirtioBalloonTest, BuffersPostedBeforeActivationAreTaken) {
    // Linux posts its first statistics buffer and kicks before DRIVER_OK.
    const std::uint8_t entry[10] = {5, 0, 0, 0, 0, 0x20, 0, 0, 0, 0}; // total_memory 512 MiB
    ASSERT_TRUE(memory.write_bytes(pfn_list, entry));
    queues[2].add(pfn_list, sizeof(entry));
    start({0, false, 1, false}, balloon_feature::stats_vq);
    auto statistics = device->statistics();
    ASSERT_TRUE(statistics);
    EXPECT_EQ((*statistics)[BalloonStatistic::total_memory], 512ull << 20);
}

TEST_F(VirtioBalloonTest, StatisticsCannotBeSwitchedOnOrOffAfterBoot) {
    VirtioBalloon without({}, memory_size);
    EXPECT_FALSE(without.set_stats_interval(5));
    EXPECT_TRUE(without.set_stats_interval(0));
    VirtioBalloon with({0, false, 5, false}, memory_size);
    auto refused = with.set_stats_interval(0);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("Cannot enable/disable"), std::string::npos);
    EXPECT_TRUE(with.set_stats_interval(10));
    EXPECT_EQ(with.stats_interval(), 10u);
}

TEST_F(VirtioBalloonTest, SavedStateBringsBackTargetActualAndInflatedPages) {
    start({8, false, 0, false}, 0);
    device->set_target_pages(5);
    const std::uint32_t actual = 2;
    device->write_config(4, {reinterpret_cast<const std::uint8_t*>(&actual), 4});
    send_pfns(0, {pfn(data), pfn(data + 2 * page)});
    StateWriter writer;
    device->save_device_state(writer);
    const std::vector<std::uint8_t> bytes = writer.take();

    // A device built for the restore, loaded before its activation (as the transport does).
    VirtioBalloon restored({8, false, 0, false}, memory_size);
    StateReader reader(bytes);
    restored.load_device_state(reader);
    ASSERT_TRUE(reader.finish("balloon"));
    EXPECT_EQ(restored.target_pages(), 5u);
    EXPECT_EQ(restored.actual_pages(), 2u);
    EXPECT_EQ(restored.counters().inflated_pages, 2u);
    VirtioActivation activation{memory, {&queues[0].queue, &queues[1].queue}, 0, interrupt};
    ASSERT_TRUE(restored.activate(activation));
    // It knows which pages are inflated: deflating them is no duplicate, another page is.
    device.reset();
    const std::uint16_t before = queues[1].used_index();
    for (std::size_t i = 0; i < 3; ++i)
        ASSERT_TRUE(memory.write<std::uint32_t>(pfn_list + 4 * i, pfn(data + i * page)));
    queues[1].add(pfn_list, 12);
    restored.queue_notify(1);
    EXPECT_EQ(queues[1].used_index(), before + 1);
    EXPECT_EQ(restored.counters().deflated_pages, 2u);
    EXPECT_EQ(restored.counters().duplicate_pfns, 1u);
}

TEST_F(VirtioBalloonTest, SavedStateOfAnotherBalloonIsRefused) {
    start({0, false, 0, false}, 0);
    StateWriter writer;
    device->save_device_state(writer);
    const std::vector<std::uint8_t> bytes = writer.take();
    {
        // Statistics on here, off in the saved device: the timer would be wrong.
        VirtioBalloon with_statistics({0, false, 1, false}, memory_size);
        StateReader reader(bytes);
        with_statistics.load_device_state(reader);
        auto result = reader.finish("balloon");
        ASSERT_FALSE(result);
        EXPECT_NE(result.error().message.find("balloon statistics interval"), std::string::npos);
    }
    {
        VirtioBalloon bigger({0, false, 0, false}, 2 * memory_size);
        StateReader reader(bytes);
        bigger.load_device_state(reader);
        auto result = reader.finish("balloon");
        ASSERT_FALSE(result);
        EXPECT_NE(result.error().message.find("balloon page map size"), std::string::npos);
    }
    {
        StateReader reader{std::span<const std::uint8_t>(bytes).first(bytes.size() - 3)};
        VirtioBalloon cut({0, false, 0, false}, memory_size);
        cut.load_device_state(reader);
        EXPECT_FALSE(reader.finish("balloon"));
    }
}

TEST(BalloonStatistics, ParsesPackedEntriesAndFlagsATruncatedTail) {
    std::uint8_t bytes[25] = {};
    bytes[0] = 3; // minor_faults = 0x0102
    bytes[2] = 2;
    bytes[3] = 1;
    bytes[10] = 9; // hugetlb_failures = 7
    bytes[12] = 7;
    bool malformed = false;
    auto statistics = BalloonStatistics::parse(bytes, malformed);
    EXPECT_TRUE(malformed);
    EXPECT_EQ(statistics[BalloonStatistic::minor_faults], 0x0102u);
    EXPECT_EQ(statistics[BalloonStatistic::hugetlb_failures], 7u);
    EXPECT_FALSE(statistics[BalloonStatistic::major_faults]);
}

} // namespace
