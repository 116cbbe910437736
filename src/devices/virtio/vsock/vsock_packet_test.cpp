// Tests of the vsock packet header codec and the checks on guest packets.
#include "devices/virtio/vsock/vsock_packet.hpp"

#include <gtest/gtest.h>

namespace vessel::virtio::vsock {
namespace {

constexpr std::uint64_t guest = 3;

PacketHeader guest_packet(Op op, std::uint32_t length = 0) {
    PacketHeader header;
    header.src_cid = guest;
    header.dst_cid = host_cid;
    header.src_port = 1000;
    header.dst_port = 52;
    header.length = length;
    header.op = static_cast<std::uint16_t>(op);
    return header;
}

TEST(VsockPacket, HeaderIsLittleEndianPackedAsTheSpecSays) {
    PacketHeader header = guest_packet(Op::rw, 0x0102);
    header.flags = 3;
    header.buf_alloc = 0x11223344;
    header.fwd_cnt = 0x55667788;
    const HeaderBytes bytes = encode_header(header);
    EXPECT_EQ(bytes[0], 3);     // src_cid
    EXPECT_EQ(bytes[8], 2);     // dst_cid
    EXPECT_EQ(bytes[16], 0xe8); // src_port 1000
    EXPECT_EQ(bytes[17], 0x03);
    EXPECT_EQ(bytes[20], 52);   // dst_port
    EXPECT_EQ(bytes[24], 0x02); // len
    EXPECT_EQ(bytes[25], 0x01);
    EXPECT_EQ(bytes[28], 1);    // type stream
    EXPECT_EQ(bytes[30], 5);    // op RW
    EXPECT_EQ(bytes[32], 3);    // flags
    EXPECT_EQ(bytes[36], 0x44); // buf_alloc
    EXPECT_EQ(bytes[43], 0x55); // fwd_cnt, last byte
    const PacketHeader decoded = decode_header(bytes);
    EXPECT_EQ(decoded.src_port, 1000u);
    EXPECT_EQ(decoded.length, 0x0102u);
    EXPECT_EQ(decoded.buf_alloc, 0x11223344u);
    EXPECT_EQ(decoded.fwd_cnt, 0x55667788u);
    EXPECT_EQ(decoded.operation(), Op::rw);
}

TEST(VsockPacket, AcceptsWellFormedGuestPackets) {
    EXPECT_TRUE(check_guest_packet(guest_packet(Op::request), 0, guest));
    EXPECT_TRUE(check_guest_packet(guest_packet(Op::rw, 100), 100, guest));
    EXPECT_TRUE(check_guest_packet(guest_packet(Op::rw, max_payload), max_payload + 10, guest));
    EXPECT_TRUE(check_guest_packet(guest_packet(Op::credit_request), 0, guest));
}

TEST(VsockPacket, RefusesBadGuestPacketsNamingTheProblem) {
    auto expect_refused = [](const PacketHeader& header, std::uint64_t available,
                             std::string_view words) {
        auto result = check_guest_packet(header, available, guest);
        ASSERT_FALSE(result);
        EXPECT_NE(result.error().message.find(words), std::string::npos) << result.error().message;
    };
    PacketHeader wrong_source = guest_packet(Op::rw);
    wrong_source.src_cid = 7;
    expect_refused(wrong_source, 0, "source CID 7");
    PacketHeader wrong_destination = guest_packet(Op::rw);
    wrong_destination.dst_cid = 5;
    expect_refused(wrong_destination, 0, "destination CID 5");
    PacketHeader seqpacket = guest_packet(Op::rw);
    seqpacket.type = 2;
    expect_refused(seqpacket, 0, "socket type 2");
    PacketHeader unknown = guest_packet(Op::rw);
    unknown.op = 0;
    expect_refused(unknown, 0, "unknown operation 0");
    unknown.op = 8;
    expect_refused(unknown, 0, "unknown operation 8");
    expect_refused(guest_packet(Op::rw, max_payload + 1), 1u << 20, "exceeds the maximum");
    expect_refused(guest_packet(Op::rw, 200), 100, "exceeds the 100 bytes");
    expect_refused(guest_packet(Op::request, 4), 4, "carries 4 payload bytes");
}

TEST(VsockPacket, ResetReplySwapsTheEnds) {
    const PacketHeader reply = reset_reply(guest_packet(Op::rw, 9));
    EXPECT_EQ(reply.operation(), Op::rst);
    EXPECT_EQ(reply.src_cid, host_cid);
    EXPECT_EQ(reply.dst_cid, guest);
    EXPECT_EQ(reply.src_port, 52u);
    EXPECT_EQ(reply.dst_port, 1000u);
    EXPECT_EQ(reply.length, 0u);
}

} // namespace
} // namespace vessel::virtio::vsock
