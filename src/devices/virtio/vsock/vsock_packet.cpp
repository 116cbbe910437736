// VsockPacket: encoding and checking virtio-vsock packet headers (virtio 1.2 §5.10.6).
#include "devices/virtio/vsock/vsock_packet.hpp"

namespace vessel::virtio::vsock {

namespace {
// Byte offsets in struct virtio_vsock_hdr (packed, little-endian).
constexpr std::size_t at_src_cid = 0;
constexpr std::size_t at_dst_cid = 8;
constexpr std::size_t at_src_port = 16;
constexpr std::size_t at_dst_port = 20;
constexpr std::size_t at_length = 24;
constexpr std::size_t at_type = 28;
constexpr std::size_t at_op = 30;
constexpr std::size_t at_flags = 32;
constexpr std::size_t at_buf_alloc = 36;
constexpr std::size_t at_fwd_cnt = 40;

template <typename T> void put(HeaderBytes& bytes, std::size_t at, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i)
        bytes[at + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i));
}

template <typename T> T get(std::span<const std::uint8_t, header_bytes> bytes, std::size_t at) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        value |= std::uint64_t{bytes[at + i]} << (8 * i);
    return static_cast<T>(value);
}
} // namespace

HeaderBytes encode_header(const PacketHeader& header) {
    HeaderBytes bytes{};
    put(bytes, at_src_cid, header.src_cid);
    put(bytes, at_dst_cid, header.dst_cid);
    put(bytes, at_src_port, header.src_port);
    put(bytes, at_dst_port, header.dst_port);
    put(bytes, at_length, header.length);
    put(bytes, at_type, header.type);
    put(bytes, at_op, header.op);
    put(bytes, at_flags, header.flags);
    put(bytes, at_buf_alloc, header.buf_alloc);
    put(bytes, at_fwd_cnt, header.fwd_cnt);
    return bytes;
}

PacketHeader decode_header(std::span<const std::uint8_t, header_bytes> bytes) {
    PacketHeader header;
    header.src_cid = get<std::uint64_t>(bytes, at_src_cid);
    header.dst_cid = get<std::uint64_t>(bytes, at_dst_cid);
    header.src_port = get<std::uint32_t>(bytes, at_src_port);
    header.dst_port = get<std::uint32_t>(bytes, at_dst_port);
    header.length = get<std::uint32_t>(bytes, at_length);
    header.type = get<std::uint16_t>(bytes, at_type);
    header.op = get<std::uint16_t>(bytes, at_op);
    header.flags = get<std::uint32_t>(bytes, at_flags);
    header.buf_alloc = get<std::uint32_t>(bytes, at_buf_alloc);
    header.fwd_cnt = get<std::uint32_t>(bytes, at_fwd_cnt);
    return header;
}

Result<void> check_guest_packet(const PacketHeader& header, std::uint64_t payload_available,
                                std::uint64_t guest_cid) {
    if (header.src_cid != guest_cid)
        return make_error("vsock packet: source CID {} is not the guest's ({})", header.src_cid,
                          guest_cid);
    if (header.dst_cid != host_cid)
        return make_error("vsock packet: destination CID {} is not the host's ({})", header.dst_cid,
                          host_cid);
    if (header.type != type_stream)
        return make_error("vsock packet: socket type {} is not a stream ({})", header.type,
                          type_stream);
    if (header.op < static_cast<std::uint16_t>(Op::request) ||
        header.op > static_cast<std::uint16_t>(Op::credit_request))
        return make_error("vsock packet: unknown operation {}", header.op);
    if (header.length > max_payload)
        return make_error("vsock packet: payload length {} exceeds the maximum {}", header.length,
                          max_payload);
    if (header.length > payload_available)
        return make_error("vsock packet: payload length {} exceeds the {} bytes in its buffers",
                          header.length, payload_available);
    if (header.length != 0 && header.operation() != Op::rw)
        return make_error("vsock packet: operation {} carries {} payload bytes", header.op,
                          header.length);
    return {};
}

PacketHeader reset_reply(const PacketHeader& header) {
    PacketHeader reply;
    reply.src_cid = host_cid;
    reply.dst_cid = header.src_cid;
    reply.src_port = header.dst_port;
    reply.dst_port = header.src_port;
    reply.op = static_cast<std::uint16_t>(Op::rst);
    return reply;
}

} // namespace vessel::virtio::vsock
