// Memory files: a Diff holds only the written pages, and merged onto the Full file it gives
// back the memory as it was at the Diff.
#include "vm/snapshot/memory_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

using namespace vessel;

namespace {

struct TemporaryDirectory {
    TemporaryDirectory() {
        char pattern[] = "/tmp/vessel-memory-file-XXXXXX";
        path = ::mkdtemp(pattern);
    }
    ~TemporaryDirectory() { std::filesystem::remove_all(path); }
    std::string path;
};

std::uint64_t allocated_bytes(const std::string& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0);
    return static_cast<std::uint64_t>(info.st_blocks) * 512;
}

} // namespace

TEST(MemoryFile, DiffHoldsWrittenPagesAndMergesOntoTheFull) {
    TemporaryDirectory directory;
    const std::string full = directory.path + "/vm.mem", diff = directory.path + "/diff.mem";
    auto memory = GuestMemory::create(8u << 20).value();
    for (std::uint64_t page = 0; page < 512; ++page) // 2 MiB of non-zero pages
        ASSERT_TRUE(memory.fill(page * 4096, static_cast<std::uint8_t>(page | 1), 4096));
    ASSERT_EQ(snapshot::write_memory_file(memory, full).value(), 512u * 4096);
    (void)memory.dirty_pages().take(); // the Full snapshot is the base

    ASSERT_TRUE(memory.write<std::uint32_t>(3 * 4096 + 8, 0xdeadbeef));
    ASSERT_TRUE(memory.fill(100 * 4096, 0, 4096));     // a page that is zero now
    ASSERT_TRUE(memory.fill(1000 * 4096, 0x77, 4096)); // a page that was zero
    const auto dirty = memory.dirty_pages().take();
    ASSERT_EQ(DirtyBitmap::count(dirty), 3u);
    ASSERT_EQ(snapshot::write_diff_memory_file(memory, dirty, diff).value(), 3u * 4096);
    struct stat info {};
    ASSERT_EQ(::stat(diff.c_str(), &info), 0);
    EXPECT_EQ(static_cast<std::uint64_t>(info.st_size), memory.size());
    EXPECT_LE(allocated_bytes(diff), 4u * 4096) << "a Diff is sparse";
    EXPECT_GE(allocated_bytes(full), 512u * 4096);

    ASSERT_EQ(snapshot::merge_diff_memory_file(diff, full).value(), 3u * 4096);
    auto merged = snapshot::map_memory_file(full, memory.size()).value();
    EXPECT_EQ(std::memcmp(merged.host_base(), memory.host_base(), memory.size()), 0);
}

TEST(MemoryFile, MergeRefusesADiffOfAnotherSize) {
    TemporaryDirectory directory;
    const std::string full = directory.path + "/vm.mem", diff = directory.path + "/diff.mem";
    auto small = GuestMemory::create(4u << 20).value();
    auto large = GuestMemory::create(8u << 20).value();
    ASSERT_TRUE(snapshot::write_memory_file(small, full));
    ASSERT_TRUE(snapshot::write_diff_memory_file(large, large.dirty_pages().take(), diff));
    auto merged = snapshot::merge_diff_memory_file(diff, full);
    ASSERT_FALSE(merged);
    EXPECT_NE(merged.error().message.find("a Diff of another VM?"), std::string::npos)
        << merged.error().message;
    auto missing = snapshot::merge_diff_memory_file(directory.path + "/none", full);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("cannot open"), std::string::npos);
}
