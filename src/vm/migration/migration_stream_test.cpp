// StreamReader::payload: a record's bytes arrive whole across chunks, and a peer that declares a
// huge record and then stalls or ends costs memory for what it sent, not for what it declared.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/unique_fd.hpp"
#include "vm/migration/migration_stream.hpp"

namespace vessel {
namespace {

/// This process's resident memory in bytes (/proc/self/statm, second field, in pages).
std::uint64_t resident_bytes() {
    std::FILE* file = std::fopen("/proc/self/statm", "r");
    if (file == nullptr) return 0;
    unsigned long long size = 0, resident = 0;
    const int fields = std::fscanf(file, "%llu %llu", &size, &resident);
    std::fclose(file);
    return fields == 2 ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

struct SocketPair {
    SocketPair() {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        reading = UniqueFd(fds[0]);
        writing = UniqueFd(fds[1]);
    }
    UniqueFd reading;
    UniqueFd writing;
};

TEST(MigrationStream, PayloadAcrossChunksIsWhole) {
    SocketPair pair;
    const std::size_t length = 3 * migration::payload_chunk_size + 5;
    std::vector<std::uint8_t> sent(length);
    for (std::size_t i = 0; i < length; ++i)
        sent[i] = static_cast<std::uint8_t>(i * 7 + (i >> 12));
    std::thread writer([&] {
        for (std::size_t at = 0; at < length;) {
            const ssize_t written = ::write(pair.writing.get(), sent.data() + at, length - at);
            if (written <= 0) return;
            at += static_cast<std::size_t>(written);
        }
    });
    migration::StreamReader reader(pair.reading.get(), "test");
    auto received = reader.payload(length);
    writer.join();
    ASSERT_TRUE(received) << received.error().message;
    EXPECT_EQ(*received, sent);
    EXPECT_EQ(reader.bytes_received(), length);
}

TEST(MigrationStream, HugeDeclaredRecordThenStallCostsLittleMemory) {
    SocketPair pair;
    const std::vector<std::uint8_t> start(1000, 0xab);
    ASSERT_EQ(::write(pair.writing.get(), start.data(), start.size()), 1000);
    migration::StreamReader reader(pair.reading.get(), "unix:peer");
    const std::uint64_t before = resident_bytes();
    // The peer declared the largest record the reader accepts, sent 1000 bytes and stalls.
    std::optional<Result<std::vector<std::uint8_t>>> result;
    std::thread reading([&] { result = reader.payload(migration::max_record_length); });
    std::uint64_t peak = before;
    for (int sample = 0; sample < 30; ++sample) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        peak = std::max(peak, resident_bytes());
    }
    pair.writing.reset(); // ... and then goes away
    reading.join();
    ASSERT_TRUE(result.has_value());
    ASSERT_FALSE(*result);
    EXPECT_NE(result->error().message.find("unix:peer: ended after 1000 bytes"), std::string::npos)
        << result->error().message;
    // Reading ahead of the bytes would have touched 256 MiB; one chunk is 1 MiB.
    EXPECT_LT(peak - before, std::uint64_t{32} << 20)
        << "resident memory grew by " << ((peak - before) >> 20) << " MiB while the peer stalled";
}

} // namespace
} // namespace vessel
