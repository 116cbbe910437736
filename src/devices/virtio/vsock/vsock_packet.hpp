// VsockPacket: the virtio-vsock packet header (virtio 1.2 §5.10.6) and the checks on guest packets.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "base/result.hpp"

namespace vessel::virtio::vsock {

constexpr std::uint16_t device_type = 19;   ///< §5.10.1
constexpr std::uint16_t receive_queue = 0;  ///< rx: device to driver (§5.10.2)
constexpr std::uint16_t transmit_queue = 1; ///< tx: driver to device
constexpr std::uint16_t event_queue = 2;
constexpr std::uint16_t queue_count = 3;
constexpr std::uint16_t queue_size = 256;
constexpr std::uint32_t config_bytes = 8;     ///< le64 guest_cid (§5.10.4)
constexpr std::uint64_t host_cid = 2;         ///< VMADDR_CID_HOST
constexpr std::uint64_t min_guest_cid = 3;    ///< 0-2 are reserved (§5.10.4)
constexpr std::uint32_t header_bytes = 44;    ///< struct virtio_vsock_hdr
constexpr std::uint32_t max_payload = 65536;  ///< Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE
constexpr std::uint16_t type_stream = 1;      ///< VIRTIO_VSOCK_TYPE_STREAM
constexpr std::uint32_t shutdown_receive = 1; ///< VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE
constexpr std::uint32_t shutdown_send = 2;    ///< VIRTIO_VSOCK_SHUTDOWN_F_SEND

/// Packet operations (§5.10.6).
enum class Op : std::uint16_t {
    request = 1,
    response = 2,
    rst = 3,
    shutdown = 4,
    rw = 5,
    credit_update = 6,
    credit_request = 7,
};

/// struct virtio_vsock_hdr, host byte order; little-endian packed on the wire.
struct PacketHeader {
    std::uint64_t src_cid{0};
    std::uint64_t dst_cid{0};
    std::uint32_t src_port{0};
    std::uint32_t dst_port{0};
    std::uint32_t length{0}; ///< payload bytes after the header
    std::uint16_t type{type_stream};
    std::uint16_t op{0};
    std::uint32_t flags{0};
    std::uint32_t buf_alloc{0}; ///< sender's receive buffer size
    std::uint32_t fwd_cnt{0};   ///< bytes the sender has consumed (freed) so far

    Op operation() const { return static_cast<Op>(op); }
};

using HeaderBytes = std::array<std::uint8_t, header_bytes>;

HeaderBytes encode_header(const PacketHeader& header);
PacketHeader decode_header(std::span<const std::uint8_t, header_bytes> bytes);

/// Checks a packet the driver sent on the tx queue, with payload_available bytes after its
/// header in the chain: a stream packet from guest_cid to the host with a known op and a length
/// that fits both the chain and max_payload. An error means the packet is answered with RST
/// (unless it is an RST itself) and otherwise ignored.
Result<void> check_guest_packet(const PacketHeader& header, std::uint64_t payload_available,
                                std::uint64_t guest_cid);

/// The RST answering header (ports and CIDs swapped), from the host.
PacketHeader reset_reply(const PacketHeader& header);

} // namespace vessel::virtio::vsock
