// SlirpBackend: DHCP, ARP and host forwards answered by the real libslirp stack.
#include "backends/net/slirp_backend.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <thread>

#include "base/unique_fd.hpp"

using namespace vessel;

namespace {

constexpr std::array<std::uint8_t, 6> guest_mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr std::uint16_t ethertype_ipv4 = 0x0800;
constexpr std::uint16_t ethertype_arp = 0x0806;
constexpr std::size_t ethernet_header_size = 14;
constexpr std::size_t udp_header_size = 8;
constexpr std::size_t bootp_yiaddr_offset = 16; // RFC 2131 section 2
constexpr std::size_t bootp_chaddr_offset = 28;
constexpr std::size_t bootp_options_offset = 240;     // after the magic cookie
constexpr std::uint8_t dhcp_option_message_type = 53; // RFC 2132 section 9.6
constexpr std::uint8_t dhcp_discover = 1;
constexpr std::uint8_t dhcp_offer = 2;

/// Appends big-endian integers and raw bytes.
struct FrameBuilder {
    std::vector<std::uint8_t> bytes;
    void u8(std::uint8_t value) { bytes.push_back(value); }
    void u16(std::uint16_t value) {
        u8(static_cast<std::uint8_t>(value >> 8));
        u8(static_cast<std::uint8_t>(value));
    }
    void u32(std::uint32_t value) {
        u16(static_cast<std::uint16_t>(value >> 16));
        u16(static_cast<std::uint16_t>(value));
    }
    void raw(std::span<const std::uint8_t> data) {
        bytes.insert(bytes.end(), data.begin(), data.end());
    }
    void zeros(std::size_t count) { bytes.insert(bytes.end(), count, 0); }
    void ethernet(std::array<std::uint8_t, 6> destination, std::uint16_t type) {
        raw(destination);
        raw(guest_mac);
        u16(type);
    }
};

std::uint16_t read16(std::span<const std::uint8_t> data, std::size_t at) {
    return static_cast<std::uint16_t>(data[at] << 8 | data[at + 1]);
}

std::uint16_t ipv4_checksum(std::span<const std::uint8_t> header) {
    std::uint32_t sum = 0;
    for (std::size_t at = 0; at + 1 < header.size(); at += 2)
        sum += read16(header, at);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

constexpr std::array<std::uint8_t, 6> broadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/// An Ethernet + IPv4 + UDP + BOOTP DHCPDISCOVER from guest_mac (RFC 2131).
std::vector<std::uint8_t> dhcp_discover_frame() {
    FrameBuilder bootp;
    bootp.u8(1);           // op: BOOTREQUEST
    bootp.u8(1);           // htype: Ethernet
    bootp.u8(6);           // hlen
    bootp.u8(0);           // hops
    bootp.u32(0x12345678); // xid
    bootp.zeros(4 + 16);   // secs, flags, ciaddr, yiaddr, siaddr, giaddr
    bootp.raw(guest_mac);
    bootp.zeros(10 + 64 + 128); // chaddr padding, sname, file
    bootp.u32(0x63825363);      // magic cookie
    bootp.u8(dhcp_option_message_type);
    bootp.u8(1);
    bootp.u8(dhcp_discover);
    bootp.u8(255); // end
    bootp.zeros(300 - bootp.bytes.size());

    FrameBuilder frame;
    frame.ethernet(broadcast, ethertype_ipv4);
    const std::size_t ip_start = frame.bytes.size();
    frame.u8(0x45); // version 4, 20-byte header
    frame.u8(0);
    frame.u16(static_cast<std::uint16_t>(20 + udp_header_size + bootp.bytes.size()));
    frame.u32(0); // id, flags, fragment
    frame.u8(64); // ttl
    frame.u8(17); // UDP
    frame.u16(0); // checksum, filled below
    frame.u32(0); // 0.0.0.0
    frame.u32(0xffffffff);
    const std::uint16_t checksum = ipv4_checksum({frame.bytes.data() + ip_start, 20});
    frame.bytes[ip_start + 10] = static_cast<std::uint8_t>(checksum >> 8);
    frame.bytes[ip_start + 11] = static_cast<std::uint8_t>(checksum);
    frame.u16(68);
    frame.u16(67);
    frame.u16(static_cast<std::uint16_t>(udp_header_size + bootp.bytes.size()));
    frame.u16(0); // no UDP checksum
    frame.raw(bootp.bytes);
    return frame.bytes;
}

/// An ARP request from 10.0.2.15 asking who has `target` (RFC 826).
std::vector<std::uint8_t> arp_request_frame(std::uint32_t target) {
    FrameBuilder frame;
    frame.ethernet(broadcast, ethertype_arp);
    frame.u16(1); // hardware: Ethernet
    frame.u16(ethertype_ipv4);
    frame.u8(6);
    frame.u8(4);
    frame.u16(1); // request
    frame.raw(guest_mac);
    frame.u32(0x0a00020f); // 10.0.2.15
    frame.zeros(6);
    frame.u32(target);
    return frame.bytes;
}

/// Collects received frames and waits for one matching a predicate.
class FrameWaiter {
  public:
    explicit FrameWaiter(NetBackend& backend) : m_backend(backend) {
        backend.set_receive_notifier([this] {
            std::lock_guard lock(m_mutex);
            m_changed.notify_all();
        });
    }
    ~FrameWaiter() { m_backend.set_receive_notifier({}); }

    template <typename Predicate> std::optional<EthernetFrame> wait_for(Predicate matches) {
        // A deadline only turns a hang into a failure; no test asserts on speed.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        std::unique_lock lock(m_mutex);
        while (true) {
            while (auto frame = m_backend.receive())
                if (matches(*frame)) return frame;
            if (m_changed.wait_until(lock, deadline) == std::cv_status::timeout &&
                !m_backend.has_received_frames())
                return std::nullopt;
        }
    }

  private:
    NetBackend& m_backend;
    std::mutex m_mutex;
    std::condition_variable m_changed;
};

bool is_ethertype(const EthernetFrame& frame, std::uint16_t type) {
    return frame.size() >= ethernet_header_size && read16(frame, 12) == type;
}

/// The payload of a UDP datagram to `port` in an IPv4 frame, or empty.
std::span<const std::uint8_t> udp_payload(const EthernetFrame& frame, std::uint16_t port) {
    if (!is_ethertype(frame, ethertype_ipv4) || frame.size() < ethernet_header_size + 20) return {};
    const std::size_t ip_header = (frame[ethernet_header_size] & 0x0f) * 4u;
    const std::size_t udp = ethernet_header_size + ip_header;
    if (frame[ethernet_header_size + 9] != 17 || frame.size() < udp + udp_header_size ||
        read16(frame, udp + 2) != port)
        return {};
    return std::span(frame).subspan(udp + udp_header_size);
}

std::uint16_t free_tcp_port() {
    UniqueFd socket_fd(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in address{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
    ::bind(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t length = sizeof(address);
    ::getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
}

} // namespace

TEST(SlirpBackend, OffersTheFirstDhcpAddress) {
    auto backend = SlirpBackend::create({});
    ASSERT_TRUE(backend.has_value()) << backend.error().message;
    FrameWaiter waiter(**backend);
    (*backend)->send(dhcp_discover_frame());
    auto offer =
        waiter.wait_for([](const EthernetFrame& frame) { return !udp_payload(frame, 68).empty(); });
    ASSERT_TRUE(offer.has_value()) << "no DHCP reply";
    const auto bootp = udp_payload(*offer, 68);
    ASSERT_GT(bootp.size(), bootp_options_offset + 3);
    EXPECT_EQ(bootp[0], 2); // BOOTREPLY
    const std::uint32_t yiaddr = std::uint32_t{read16(bootp, bootp_yiaddr_offset)} << 16 |
                                 read16(bootp, bootp_yiaddr_offset + 2);
    EXPECT_EQ(yiaddr, 0x0a00020fu); // 10.0.2.15
    EXPECT_EQ(bootp[bootp_options_offset], dhcp_option_message_type);
    EXPECT_EQ(bootp[bootp_options_offset + 2], dhcp_offer);
    EXPECT_TRUE(
        std::equal(guest_mac.begin(), guest_mac.end(), bootp.begin() + bootp_chaddr_offset));
}

TEST(SlirpBackend, AnswersArpForTheGateway) {
    auto backend = SlirpBackend::create({});
    ASSERT_TRUE(backend.has_value()) << backend.error().message;
    FrameWaiter waiter(**backend);
    (*backend)->send(arp_request_frame(0x0a000202)); // who has 10.0.2.2?
    auto reply = waiter.wait_for(
        [](const EthernetFrame& frame) { return is_ethertype(frame, ethertype_arp); });
    ASSERT_TRUE(reply.has_value()) << "no ARP reply";
    ASSERT_GE(reply->size(), ethernet_header_size + 28);
    const std::size_t arp = ethernet_header_size;
    EXPECT_EQ(read16(*reply, arp + 6), 2); // reply
    const std::uint32_t sender_ip =
        std::uint32_t{read16(*reply, arp + 14)} << 16 | read16(*reply, arp + 16);
    EXPECT_EQ(sender_ip, 0x0a000202u);
    EXPECT_TRUE(std::equal(guest_mac.begin(), guest_mac.end(), reply->begin() + arp + 18));
}

TEST(SlirpBackend, HostForwardReachesTheGuestAsTcpSyn) {
    const std::uint16_t port = free_tcp_port();
    HostForward forward = *HostForward::parse(fmt::format("tcp:127.0.0.1:{}-:22", port));
    auto backend = SlirpBackend::create({.host_forwards = {forward}});
    ASSERT_TRUE(backend.has_value()) << backend.error().message;
    FrameWaiter waiter(**backend);
    // Slirp learns the guest's MAC from its ARP traffic before it can send to it.
    (*backend)->send(arp_request_frame(0x0a000202));
    ASSERT_TRUE(
        waiter.wait_for([](const EthernetFrame& f) { return is_ethertype(f, ethertype_arp); }));

    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    sockaddr_in address{
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
    const int connected =
        ::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ASSERT_TRUE(connected == 0 || errno == EINPROGRESS) << std::strerror(errno);
    auto syn = waiter.wait_for([](const EthernetFrame& frame) {
        if (!is_ethertype(frame, ethertype_ipv4) || frame.size() < ethernet_header_size + 40)
            return false;
        const std::size_t tcp = ethernet_header_size + (frame[ethernet_header_size] & 0x0f) * 4u;
        return frame[ethernet_header_size + 9] == 6 && frame.size() >= tcp + 14 &&
               read16(frame, tcp + 2) == 22 && (frame[tcp + 13] & 0x02) != 0;
    });
    ASSERT_TRUE(syn.has_value()) << "no SYN towards guest port 22";
    const std::uint32_t destination = std::uint32_t{read16(*syn, ethernet_header_size + 16)} << 16 |
                                      read16(*syn, ethernet_header_size + 18);
    EXPECT_EQ(destination, 0x0a00020fu);
}

TEST(SlirpBackend, BusyHostPortIsAClearError) {
    UniqueFd holder(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in address{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
    ASSERT_EQ(::bind(holder.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ASSERT_EQ(::listen(holder.get(), 1), 0);
    socklen_t length = sizeof(address);
    ::getsockname(holder.get(), reinterpret_cast<sockaddr*>(&address), &length);
    HostForward forward =
        *HostForward::parse(fmt::format("tcp:127.0.0.1:{}-:22", ntohs(address.sin_port)));
    auto backend = SlirpBackend::create({.host_forwards = {forward}});
    ASSERT_FALSE(backend.has_value());
    EXPECT_NE(backend.error().message.find("cannot listen"), std::string::npos)
        << backend.error().message;
    EXPECT_NE(backend.error().message.find(std::to_string(ntohs(address.sin_port))),
              std::string::npos);
}

TEST(SlirpBackend, PollTimeoutFollowsSlirpTimersAndQuiet) {
    constexpr std::int64_t quiet = 5000;
    // libslirp asks for a TCP or expiry timeout: exactly that.
    EXPECT_EQ(SlirpBackend::poll_timeout_ms(2, std::nullopt, 100'000, 0, quiet), 2);
    EXPECT_EQ(SlirpBackend::poll_timeout_ms(499, std::nullopt, 100'000, 0, quiet), 499);
    // An armed libslirp timer: until it is due (now if overdue), at most libslirp's answer.
    EXPECT_EQ(SlirpBackend::poll_timeout_ms(1000, 100'250, 100'000, 0, quiet), 250);
    EXPECT_EQ(SlirpBackend::poll_timeout_ms(1000, 99'000, 100'000, 0, quiet), 0);
    EXPECT_EQ(SlirpBackend::poll_timeout_ms(499, 200'000, 100'000, 0, quiet), 499);
    // Nothing timed and quiet long enough: no timeout at all.
    EXPECT_EQ(SlirpBackend::poll_timeout_ms(1000, std::nullopt, 100'000, 95'000, quiet), -1);
    // Nothing timed, but traffic 4.5 s ago: look again when the quiet period is over.
    EXPECT_EQ(SlirpBackend::poll_timeout_ms(1000, std::nullopt, 100'000, 95'500, quiet), 500);
    EXPECT_EQ(SlirpBackend::poll_timeout_ms(1000, std::nullopt, 100'000, 99'900, quiet), 1000);
}

TEST(SlirpBackend, AnIdleNetworkSleepsUntilAFrameArrives) {
    auto backend = SlirpBackend::create({.quiet_after = std::chrono::milliseconds(100)});
    ASSERT_TRUE(backend.has_value()) << backend.error().message;
    FrameWaiter waiter(**backend);
    std::this_thread::sleep_for(std::chrono::milliseconds(400)); // quiet for 100 ms by now
    const std::uint64_t quiet_turns = (*backend)->loop_turns();
    std::this_thread::sleep_for(std::chrono::milliseconds(2500)); // was 2 turns at 1 s polls
    EXPECT_EQ((*backend)->loop_turns(), quiet_turns) << "the idle network's thread woke up";
    // A frame from the guest still wakes it, and it answers.
    (*backend)->send(arp_request_frame(0x0a000202));
    EXPECT_TRUE(
        waiter.wait_for([](const EthernetFrame& f) { return is_ethertype(f, ethertype_arp); }));
    EXPECT_GT((*backend)->loop_turns(), quiet_turns);
}
