// SnapshotFile: what decode accepts, and a clear refusal for each kind of damage.
#include "vm/snapshot/snapshot_file.hpp"

#include <gtest/gtest.h>

namespace vessel::snapshot {
namespace {

SnapshotFile sample() {
    SnapshotFile file;
    file.add("machine", 1, {1, 2, 3});
    file.add("cpu.0", 1, std::vector<std::uint8_t>(100, 0xab));
    file.add("empty", 2, {});
    return file;
}

std::string decode_error(std::span<const std::uint8_t> bytes) {
    auto decoded = SnapshotFile::decode(bytes, "vm.state");
    return decoded ? "" : decoded.error().message;
}

TEST(SnapshotFile, Crc32MatchesZlib) {
    const std::string text = "123456789";
    EXPECT_EQ(crc32({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}),
              0xcbf43926u);
}

TEST(SnapshotFile, RoundTripsSections) {
    const auto bytes = sample().encode();
    auto decoded = SnapshotFile::decode(bytes, "vm.state");
    ASSERT_TRUE(decoded) << decoded.error().message;
    ASSERT_EQ(decoded->sections().size(), 3u);
    EXPECT_EQ(decoded->sections()[1].tag, "cpu.0");
    EXPECT_EQ(decoded->sections()[1].payload.size(), 100u);
    auto payload = decoded->payload("machine", 1);
    ASSERT_TRUE(payload);
    EXPECT_EQ(payload->size(), 3u);
    EXPECT_EQ(decoded->payload("empty", 1).error().message,
              "section 'empty' has version 2, this Vessel reads version 1");
    EXPECT_EQ(decoded->find("pci").error().message, "section 'pci' missing");
}

TEST(SnapshotFile, RefusesEveryTruncation) {
    const auto bytes = sample().encode();
    for (std::size_t length = 0; length < bytes.size(); ++length) {
        const std::string error = decode_error(std::span(bytes).first(length));
        ASSERT_FALSE(error.empty()) << "length " << length;
        EXPECT_TRUE(error.starts_with("snapshot vm.state: ")) << error;
    }
}

TEST(SnapshotFile, RefusesEveryFlippedByteByChecksumOrStructure) {
    const auto original = sample().encode();
    for (std::size_t index = 0; index < original.size(); ++index) {
        auto bytes = original;
        bytes[index] ^= 0x40;
        EXPECT_FALSE(decode_error(bytes).empty()) << "byte " << index;
    }
    auto bytes = original;
    bytes[SnapshotFile::header_size + 40] ^= 1; // inside the cpu.0 payload
    EXPECT_NE(decode_error(bytes).find("checksum mismatch"), std::string::npos);
}

TEST(SnapshotFile, NamesANewerFormatVersion) {
    auto bytes = sample().encode();
    bytes[8] = 2; // format version 2, checksum recomputed so only the version is wrong
    const std::uint32_t crc = crc32(std::span(bytes).first(bytes.size() - 8));
    for (int shift = 0; shift < 4; ++shift)
        bytes[bytes.size() - 8 + shift] = static_cast<std::uint8_t>(crc >> (8 * shift));
    EXPECT_EQ(decode_error(bytes), "snapshot vm.state: format version 2 is newer than this "
                                   "Vessel reads (1); restore it with a newer Vessel");
}

TEST(SnapshotFile, RefusesDuplicateSections) {
    SnapshotFile file;
    file.add("uart", 1, {1});
    file.add("uart", 1, {2});
    EXPECT_EQ(decode_error(file.encode()), "snapshot vm.state: section 'uart' appears twice");
}

TEST(SnapshotFile, RefusesSomethingElse) {
    const std::vector<std::uint8_t> text(64, 'x');
    EXPECT_EQ(decode_error(text), "snapshot vm.state: not a Vessel state file (magic missing)");
}

} // namespace
} // namespace vessel::snapshot
