// VirtioBlock: requests through a real virtqueue and a real image file, hostile ones included.
#include "devices/virtio/virtio_block.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "backends/block/sync_file_backend.hpp"
#include "devices/bus_device.hpp"
#include "devices/virtio/virtio_test_support.hpp"

using namespace vessel;
using namespace vessel::virtio;
using vessel::testing::RingDriver;

namespace {

struct Interrupts final : VirtioInterrupt {
    void signal_used(std::uint16_t) override { ++used; }
    void signal_config() override {}
    int used{0};
};

/// Passes every request to the real backend and counts the flushes that reach it.
struct CountingBackend final : BlockBackend {
    CountingBackend(std::unique_ptr<BlockBackend> inner, int& flushes)
        : m_inner(std::move(inner)), m_flushes(flushes) {}
    std::uint64_t size() const override { return m_inner->size(); }
    bool read_only() const override { return m_inner->read_only(); }
    bool supports_discard() const override { return m_inner->supports_discard(); }
    void read(std::uint64_t offset, std::span<const iovec> buffers, Completion done) override {
        m_inner->read(offset, buffers, std::move(done));
    }
    void write(std::uint64_t offset, std::span<const iovec> buffers, Completion done) override {
        m_inner->write(offset, buffers, std::move(done));
    }
    void flush(Completion done) override {
        ++m_flushes;
        m_inner->flush(std::move(done));
    }
    void discard(std::uint64_t offset, std::uint64_t length, Completion done) override {
        m_inner->discard(offset, length, std::move(done));
    }
    void drain() override { m_inner->drain(); }

    std::unique_ptr<BlockBackend> m_inner;
    int& m_flushes;
};

/// A 64 KiB image (sector n filled with byte n) behind a VirtioBlock on one queue.
struct VirtioBlockTest : ::testing::Test {
    static constexpr std::uint64_t header = 0x10000; ///< request header in guest memory
    static constexpr std::uint64_t data = 0x20000;
    static constexpr std::uint64_t status = 0x30000;
    GuestMemory memory = GuestMemory::create(1 << 20).value();
    std::string path;
    std::unique_ptr<VirtioBlock> device;
    Virtqueue queue{0, VirtioBlock::queue_size};
    RingDriver driver{memory, 8};
    Interrupts interrupts;
    bool broken{false};

    void SetUp() override { make(false); }
    void TearDown() override {
        device.reset();
        ::unlink(path.c_str());
    }
    int flushes{0}; ///< flushes that reached the backend
    void make(bool read_only, BlockCache cache = BlockCache::writeback) {
        if (path.empty()) {
            char name[] = "/tmp/vessel-blk-XXXXXX";
            const int fd = mkstemp(name);
            ASSERT_GE(fd, 0);
            for (int sector = 0; sector < 128; ++sector) {
                std::vector<std::uint8_t> bytes(512, static_cast<std::uint8_t>(sector));
                ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), 512);
            }
            ::close(fd);
            path = name;
        }
        device.reset(); // its image lock goes with it: a second open would conflict
        device = std::make_unique<VirtioBlock>(
            std::make_unique<CountingBackend>(SyncFileBackend::open(path, read_only).value(),
                                              flushes),
            "serial-123", cache);
        queue.reset();
        driver.avail_index = 0;
        driver.program(queue);
        ASSERT_TRUE(queue.activate(memory, true, [this](const std::string&) { broken = true; }));
        ASSERT_TRUE(device->activate(VirtioActivation{memory, {&queue}, 0, interrupts}));
    }
    void write_header(std::uint32_t type, std::uint64_t sector) {
        ASSERT_TRUE(memory.write<std::uint32_t>(header, type));
        ASSERT_TRUE(memory.write<std::uint32_t>(header + 4, 0));
        ASSERT_TRUE(memory.write<std::uint64_t>(header + 8, sector));
        ASSERT_TRUE(memory.write<std::uint8_t>(status, 0xee));
    }
    /// Header, one data buffer (device-writable for reads), status; returns the status byte.
    std::uint8_t request(std::uint32_t type, std::uint64_t sector, std::uint32_t length,
                         bool data_writable) {
        write_header(type, sector);
        driver.descriptor(0, header, 16, ring::descriptor_next, 1);
        driver.descriptor(1, data, length,
                          ring::descriptor_next | (data_writable ? ring::descriptor_write : 0), 2);
        driver.descriptor(2, status, 1, ring::descriptor_write);
        driver.publish(0);
        device->queue_notify(0);
        return memory.read<std::uint8_t>(status).value();
    }
    std::vector<std::uint8_t> file_bytes(std::uint64_t offset, std::size_t length) {
        std::ifstream file(path, std::ios::binary);
        file.seekg(static_cast<std::streamoff>(offset));
        std::vector<std::uint8_t> bytes(length);
        file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(length));
        return bytes;
    }
};

} // namespace

TEST_F(VirtioBlockTest, ConfigReportsCapacityAndFeatures) {
    std::uint8_t capacity[8] = {};
    device->read_config(0, capacity);
    EXPECT_EQ(bytes_to_value(capacity), 128u);
    EXPECT_NE(device->features() & VirtioBlock::feature_flush, 0u);
    EXPECT_NE(device->features() & VirtioBlock::feature_discard, 0u);
    EXPECT_EQ(device->features() & VirtioBlock::feature_read_only, 0u);
    std::uint8_t beyond[4] = {1, 1, 1, 1};
    device->read_config(58, beyond); // straddles the end: the rest reads as zero
    EXPECT_EQ(beyond[3], 0);
}

TEST_F(VirtioBlockTest, ReadsSectorsIntoGuestMemory) {
    EXPECT_EQ(request(block::type_in, 5, 1024, true), block::status_ok);
    EXPECT_EQ(memory.read<std::uint8_t>(data).value(), 5);
    EXPECT_EQ(memory.read<std::uint8_t>(data + 1023).value(), 6);
    EXPECT_EQ(driver.used_element(0), std::make_pair(0u, 1025u));
    EXPECT_EQ(interrupts.used, 1);
}

TEST_F(VirtioBlockTest, WritesReachTheFileAndFlushSucceeds) {
    ASSERT_TRUE(memory.fill(data, 0x5a, 512));
    EXPECT_EQ(request(block::type_out, 7, 512, false), block::status_ok);
    EXPECT_EQ(file_bytes(7 * 512, 512), std::vector<std::uint8_t>(512, 0x5a));
    EXPECT_EQ(file_bytes(8 * 512, 1)[0], 8); // neighbours untouched
    EXPECT_EQ(request(block::type_flush, 0, 0, false), block::status_ok);
}

TEST_F(VirtioBlockTest, WritebackCacheOffersFlushAndSyncs) {
    EXPECT_NE(device->features() & VirtioBlock::feature_flush, 0u);
    EXPECT_EQ(request(block::type_flush, 0, 0, false), block::status_ok);
    EXPECT_EQ(flushes, 1);
}

TEST_F(VirtioBlockTest, UnsafeCacheAcknowledgesFlushesWithoutSyncing) {
    make(false, BlockCache::unsafe);
    EXPECT_EQ(device->features() & VirtioBlock::feature_flush, 0u);
    ASSERT_TRUE(memory.fill(data, 0x5a, 512));
    EXPECT_EQ(request(block::type_out, 3, 512, false), block::status_ok);
    EXPECT_EQ(request(block::type_flush, 0, 0, false), block::status_ok);
    EXPECT_EQ(flushes, 0);
    EXPECT_EQ(file_bytes(3 * 512, 512), std::vector<std::uint8_t>(512, 0x5a)); // writes still go
}

TEST_F(VirtioBlockTest, OutOfRangeAndPartialSectorsAreIoErrors) {
    EXPECT_EQ(request(block::type_in, 127, 1024, true), block::status_io_error);
    EXPECT_EQ(request(block::type_in, 128, 512, true), block::status_io_error);
    EXPECT_EQ(request(block::type_in, ~std::uint64_t{0}, 512, true), block::status_io_error);
    EXPECT_EQ(request(block::type_out, (~std::uint64_t{0}) / 512, 512, false),
              block::status_io_error);
    EXPECT_EQ(request(block::type_in, 0, 100, true), block::status_io_error);
    EXPECT_EQ(request(block::type_in, 127, 512, true), block::status_ok); // the last sector
    EXPECT_FALSE(broken);
}

TEST_F(VirtioBlockTest, UnknownTypesAreUnsupportedAndGetIdGivesTheSerial) {
    EXPECT_EQ(request(99, 0, 512, true), block::status_unsupported);
    EXPECT_EQ(request(block::type_get_id, 0, 20, true), block::status_ok);
    std::array<char, 20> id{};
    ASSERT_TRUE(memory.read_bytes(data, {reinterpret_cast<std::uint8_t*>(id.data()), id.size()}));
    EXPECT_STREQ(id.data(), "serial-123");
}

TEST_F(VirtioBlockTest, ReadOnlyDisksRefuseWritesAndDiscards) {
    make(true);
    EXPECT_NE(device->features() & VirtioBlock::feature_read_only, 0u);
    EXPECT_EQ(device->features() & VirtioBlock::feature_discard, 0u);
    EXPECT_EQ(request(block::type_out, 0, 512, false), block::status_io_error);
    EXPECT_EQ(file_bytes(0, 1)[0], 0);
    EXPECT_EQ(request(block::type_discard, 0, 16, false), block::status_unsupported);
    EXPECT_EQ(request(block::type_in, 1, 512, true), block::status_ok);
}

TEST_F(VirtioBlockTest, DiscardPunchesAHoleAndChecksItsSegment) {
    auto segment = [&](std::uint64_t sector, std::uint32_t count, std::uint32_t flags) {
        (void)memory.write<std::uint64_t>(data, sector);
        (void)memory.write<std::uint32_t>(data + 8, count);
        (void)memory.write<std::uint32_t>(data + 12, flags);
    };
    segment(8, 8, 0);
    EXPECT_EQ(request(block::type_discard, 0, 16, false), block::status_ok);
    EXPECT_EQ(file_bytes(8 * 512, 4096), std::vector<std::uint8_t>(4096, 0));
    EXPECT_EQ(file_bytes(16 * 512, 1)[0], 16);
    segment(120, 9, 0);
    EXPECT_EQ(request(block::type_discard, 0, 16, false), block::status_io_error);
    segment(0, 1, block::discard_flag_unmap);
    EXPECT_EQ(request(block::type_discard, 0, 16, false), block::status_unsupported);
    segment(0, 1, 0);
    EXPECT_EQ(request(block::type_discard, 0, 15, false), block::status_io_error);
}

TEST_F(VirtioBlockTest, ATruncatedImageGivesIoErrorsNotCrashes) {
    ASSERT_EQ(::truncate(path.c_str(), 4096), 0); // the host shrinks the file under the guest
    EXPECT_EQ(request(block::type_in, 100, 512, true), block::status_io_error);
    EXPECT_EQ(request(block::type_in, 0, 512, true), block::status_ok);
}

TEST_F(VirtioBlockTest, HostileLayoutsStillGetAnAnswer) {
    // Header split over two descriptors, data and status sharing one buffer: legal (§2.6.4).
    write_header(block::type_in, 3);
    driver.descriptor(0, header, 10, ring::descriptor_next, 1);
    driver.descriptor(1, header + 10, 6, ring::descriptor_next, 2);
    driver.descriptor(2, data, 513, ring::descriptor_write);
    driver.publish(0);
    device->queue_notify(0);
    EXPECT_EQ(memory.read<std::uint8_t>(data + 512).value(), block::status_ok);
    EXPECT_EQ(memory.read<std::uint8_t>(data).value(), 3);
    // A short header: IOERR in the status byte.
    driver.descriptor(0, header, 8, ring::descriptor_next, 1);
    driver.descriptor(1, status, 1, ring::descriptor_write);
    (void)memory.write<std::uint8_t>(status, 0xee);
    driver.publish(0);
    device->queue_notify(0);
    EXPECT_EQ(memory.read<std::uint8_t>(status).value(), block::status_io_error);
    // No writable byte at all: nowhere to answer; the chain still comes back (length 0).
    driver.descriptor(0, header, 16, 0);
    driver.publish(0);
    device->queue_notify(0);
    EXPECT_EQ(driver.used_index(), 3);
    EXPECT_EQ(driver.used_element(2).second, 0u);
    EXPECT_FALSE(broken);
}

TEST(VirtioBlockRequest, OffsetChecksOverflowAndWholeSectors) {
    BlockRequest request;
    request.sector = 2;
    request.data_bytes = 1024;
    EXPECT_EQ(block_request_offset(request, 4096).value(), 1024u);
    request.sector = 7;
    EXPECT_FALSE(block_request_offset(request, 4096));
    request.sector = ~std::uint64_t{0} / 512 + 1;
    EXPECT_FALSE(block_request_offset(request, 4096));
    request.sector = 0;
    request.data_bytes = 511;
    EXPECT_FALSE(block_request_offset(request, 4096));
}

TEST(SyncFileBackend, OpenErrorsNameThePath) {
    auto missing = SyncFileBackend::open("/nonexistent/disk.img", false);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("/nonexistent/disk.img"), std::string::npos);
    EXPECT_FALSE(SyncFileBackend::open("/tmp", false));
}
