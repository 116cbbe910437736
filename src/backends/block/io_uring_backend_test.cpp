// IoUringBackend: read/write/flush/discard on a temporary image, short files, read-only, drain.
#include "backends/block/io_uring_backend.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>

#include "backends/block/block_backend_factory.hpp"

using namespace vessel;

namespace {

constexpr std::size_t image_size = 1 << 20;

/// A temporary image file filled with 0x5a, removed at the end of the test.
class TempImage {
  public:
    TempImage() {
        m_path = (std::filesystem::temp_directory_path() /
                  fmt::format("vessel-io-uring-{}-{}.img", ::getpid(), counter++))
                     .string();
        std::vector<std::uint8_t> bytes(image_size, 0x5a);
        const int fd = ::open(m_path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
        EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
        ::close(fd);
    }
    ~TempImage() { std::filesystem::remove(m_path); }
    const std::string& path() const { return m_path; }

  private:
    static inline std::atomic<int> counter{0};
    std::string m_path;
};

/// Runs one request and waits for its completion.
template <typename Submit> Result<void> wait_for(Submit submit) {
    std::promise<Result<void>> promise;
    auto future = promise.get_future();
    submit([&promise](Result<void> result) { promise.set_value(std::move(result)); });
    return future.get();
}

std::unique_ptr<IoUringBackend> open_or_skip(const std::string& path, bool read_only) {
    auto backend = IoUringBackend::open(path, read_only);
    EXPECT_TRUE(backend.has_value()) << backend.error().message;
    return backend ? std::move(*backend) : nullptr;
}

} // namespace

TEST(IoUringBackend, WriteThenReadBackAcrossBuffers) {
    if (!IoUringBackend::probe()) GTEST_SKIP() << "io_uring unavailable here";
    TempImage image;
    auto backend = open_or_skip(image.path(), false);
    ASSERT_TRUE(backend);
    EXPECT_EQ(backend->size(), image_size);
    EXPECT_TRUE(backend->supports_discard());

    std::vector<std::uint8_t> first(1000), second(3096);
    for (std::size_t i = 0; i < first.size(); ++i)
        first[i] = static_cast<std::uint8_t>(i);
    for (std::size_t i = 0; i < second.size(); ++i)
        second[i] = static_cast<std::uint8_t>(255 - i);
    const std::vector<iovec> out = {{first.data(), first.size()}, {second.data(), second.size()}};
    ASSERT_TRUE(wait_for([&](auto done) { backend->write(8192, out, std::move(done)); }));
    ASSERT_TRUE(wait_for([&](auto done) { backend->flush(std::move(done)); }));

    std::vector<std::uint8_t> back(4096 + 2);
    const std::vector<iovec> in = {{back.data(), 1}, {back.data() + 1, back.size() - 1}};
    ASSERT_TRUE(wait_for([&](auto done) { backend->read(8191, in, std::move(done)); }));
    EXPECT_EQ(back.front(), 0x5a);
    EXPECT_TRUE(std::equal(first.begin(), first.end(), back.begin() + 1));
    EXPECT_TRUE(std::equal(second.begin(), second.end(), back.begin() + 1001));
    EXPECT_EQ(back.back(), 0x5a);
}

TEST(IoUringBackend, DiscardReadsBackAsZeros) {
    if (!IoUringBackend::probe()) GTEST_SKIP() << "io_uring unavailable here";
    TempImage image;
    auto backend = open_or_skip(image.path(), false);
    ASSERT_TRUE(backend);
    auto discarded = wait_for([&](auto done) { backend->discard(65536, 65536, std::move(done)); });
    if (!discarded && discarded.error().message.find("not supported") != std::string::npos)
        GTEST_SKIP() << "the temp file system cannot punch holes: " << discarded.error().message;
    ASSERT_TRUE(discarded) << discarded.error().message;
    std::vector<std::uint8_t> back(65536 + 2, 0xff);
    const std::vector<iovec> in = {{back.data(), back.size()}};
    ASSERT_TRUE(wait_for([&](auto done) { backend->read(65535, in, std::move(done)); }));
    EXPECT_EQ(back.front(), 0x5a);
    EXPECT_TRUE(std::all_of(back.begin() + 1, back.end() - 1, [](auto b) { return b == 0; }));
    EXPECT_EQ(back.back(), 0x5a);
}

TEST(IoUringBackend, TruncatedImageIsAnErrorNotAHang) {
    if (!IoUringBackend::probe()) GTEST_SKIP() << "io_uring unavailable here";
    TempImage image;
    auto backend = open_or_skip(image.path(), false);
    ASSERT_TRUE(backend);
    std::filesystem::resize_file(image.path(), 4096 + 100); // the host shrinks the image
    std::vector<std::uint8_t> back(8192);
    const std::vector<iovec> in = {{back.data(), back.size()}};
    auto result = wait_for([&](auto done) { backend->read(4096, in, std::move(done)); });
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("end of the file"), std::string::npos)
        << result.error().message;
    EXPECT_NE(result.error().message.find(image.path()), std::string::npos);
}

TEST(IoUringBackend, ReadOnlyRefusesWritesAndDiscards) {
    if (!IoUringBackend::probe()) GTEST_SKIP() << "io_uring unavailable here";
    TempImage image;
    auto backend = open_or_skip(image.path(), true);
    ASSERT_TRUE(backend);
    EXPECT_TRUE(backend->read_only());
    std::vector<std::uint8_t> data(512);
    const std::vector<iovec> out = {{data.data(), data.size()}};
    auto write = wait_for([&](auto done) { backend->write(0, out, std::move(done)); });
    ASSERT_FALSE(write);
    EXPECT_NE(write.error().message.find("read-only"), std::string::npos);
    EXPECT_FALSE(wait_for([&](auto done) { backend->discard(0, 512, std::move(done)); }));
    EXPECT_TRUE(wait_for([&](auto done) { backend->flush(std::move(done)); }));
}

TEST(IoUringBackend, ManyRequestsInFlightAllCompleteBeforeDrainReturns) {
    if (!IoUringBackend::probe()) GTEST_SKIP() << "io_uring unavailable here";
    TempImage image;
    auto backend = open_or_skip(image.path(), false);
    ASSERT_TRUE(backend);
    constexpr int request_count = 3 * IoUringBackend::ring_entries;
    std::vector<std::vector<std::uint8_t>> blocks(request_count, std::vector<std::uint8_t>(512));
    std::atomic<int> succeeded{0};
    for (int i = 0; i < request_count; ++i) {
        const std::vector<iovec> in = {{blocks[i].data(), blocks[i].size()}};
        backend->read(static_cast<std::uint64_t>(i % 2048) * 512, in, [&](Result<void> result) {
            if (result) ++succeeded;
        });
    }
    backend->drain();
    EXPECT_EQ(succeeded.load(), request_count);
    EXPECT_TRUE(std::all_of(blocks.begin(), blocks.end(), [](const auto& block) {
        return std::all_of(block.begin(), block.end(), [](auto b) { return b == 0x5a; });
    }));
}

TEST(IoUringBackend, OpenErrorsNameThePath) {
    auto missing = IoUringBackend::open("/nonexistent/vessel.img", false);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("/nonexistent/vessel.img"), std::string::npos);
    auto directory = IoUringBackend::open("/tmp", true);
    ASSERT_FALSE(directory);
    EXPECT_NE(directory.error().message.find("not a regular file"), std::string::npos);
}

TEST(BlockBackendFactory, PicksAnEngineAndKeepsFileErrors) {
    TempImage image;
    auto automatic = open_block_backend(image.path(), false);
    ASSERT_TRUE(automatic) << automatic.error().message;
    EXPECT_EQ((*automatic)->size(), image_size);
    if (IoUringBackend::probe()) {
        EXPECT_NE(dynamic_cast<IoUringBackend*>(automatic->get()), nullptr);
    }
    automatic->reset(); // its exclusive image lock would refuse the next open
    auto sync = open_block_backend(image.path(), true, BlockEngine::sync);
    ASSERT_TRUE(sync);
    EXPECT_EQ(dynamic_cast<IoUringBackend*>(sync->get()), nullptr);
    auto missing = open_block_backend("/nonexistent/vessel.img", false);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("/nonexistent/vessel.img"), std::string::npos);
}
