// Tests of the GDB packet framing and hex helpers.
#include "gdb/gdb_packet.hpp"

#include <gtest/gtest.h>

namespace vessel::gdb {
namespace {

std::vector<Incoming> feed(PacketReader& reader, std::string_view text) {
    return reader.feed(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

TEST(GdbPacket, FramesWithTheModulo256Checksum) {
    EXPECT_EQ(frame_packet("OK"), "$OK#9a");
    EXPECT_EQ(frame_packet(""), "$#00");
}

TEST(GdbPacket, ReaderFindsPacketsAcksAndInterrupts) {
    PacketReader reader;
    auto got = feed(reader, "+$g#67\x03-");
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].kind, Incoming::Kind::Ack);
    EXPECT_EQ(got[1].kind, Incoming::Kind::Packet);
    EXPECT_EQ(got[1].payload, "g");
    EXPECT_EQ(got[2].kind, Incoming::Kind::Interrupt);
    EXPECT_EQ(got[3].kind, Incoming::Kind::Nack);
}

TEST(GdbPacket, PacketsMaySpanReads) {
    PacketReader reader;
    EXPECT_TRUE(feed(reader, "$qSupp").empty());
    EXPECT_TRUE(feed(reader, "orted#3").empty());
    auto got = feed(reader, "7");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, Incoming::Kind::Packet);
    EXPECT_EQ(got[0].payload, "qSupported");
}

TEST(GdbPacket, BadOrNonHexChecksumIsReported) {
    PacketReader reader;
    auto got = feed(reader, "$g#00$g#zz$g#67");
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].kind, Incoming::Kind::BadChecksum);
    EXPECT_EQ(got[1].kind, Incoming::Kind::BadChecksum);
    EXPECT_EQ(got[2].kind, Incoming::Kind::Packet);
}

TEST(GdbPacket, OverlongPacketIsDroppedNotBuffered) {
    PacketReader reader;
    std::string huge = "$" + std::string(PacketReader::max_packet_size + 10, 'a') + "#00";
    auto got = feed(reader, huge);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, Incoming::Kind::Overlong);
    EXPECT_EQ(feed(reader, "$g#67").at(0).payload, "g"); // and the reader recovers
}

TEST(GdbPacket, RestartsOnANewStartInsideAPacket) {
    PacketReader reader;
    auto got = feed(reader, "$m0,4$g#67");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, "g");
}

TEST(GdbPacket, BinaryEscapesRoundTrip) {
    const std::vector<std::uint8_t> bytes{'$', '#', '}', '*', 0, 0xff, 'a'};
    const std::string escaped = escape_binary(bytes);
    EXPECT_EQ(escaped.find('$'), std::string::npos);
    EXPECT_EQ(*unescape_binary(escaped), bytes);
    EXPECT_FALSE(unescape_binary("ab}"));
}

TEST(GdbPacket, HexHelpers) {
    EXPECT_EQ(to_hex(std::string_view("OK")), "4f4b");
    EXPECT_EQ(*from_hex("4f4B"), (std::vector<std::uint8_t>{0x4f, 0x4b}));
    EXPECT_FALSE(from_hex("4f4"));
    EXPECT_FALSE(from_hex("zz"));
    EXPECT_EQ(*parse_hex_number("ffffffff81000000"), 0xffffffff81000000u);
    EXPECT_FALSE(parse_hex_number(""));
    EXPECT_FALSE(parse_hex_number("1ffffffffffffffff"));
    EXPECT_FALSE(parse_hex_number("12x"));
    EXPECT_EQ(hex_little_endian(0x1234, 4), "34120000");
}

} // namespace
} // namespace vessel::gdb
