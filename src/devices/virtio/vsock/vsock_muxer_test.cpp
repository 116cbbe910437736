// Tests of the vsock host side: Firecracker's CONNECT handshake and `<uds_path>_<port>` sockets.
#include "devices/virtio/vsock/vsock_muxer.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace vessel::virtio::vsock {
namespace {

constexpr std::uint64_t guest = 5;

class VsockMuxerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        m_path = ::testing::TempDir() + "vessel-vsock-test-" + std::to_string(getpid());
        ::unlink(m_path.c_str());
        auto muxer = VsockMuxer::create(m_path, guest);
        ASSERT_TRUE(muxer) << muxer.error().message;
        m_muxer = std::move(*muxer);
    }

    static sockaddr_un address_of(const std::string& path) {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, path.data(), path.size());
        return address;
    }

    static UniqueFd connect_to(const std::string& path) {
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
        const sockaddr_un address = address_of(path);
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
            return UniqueFd();
        return fd;
    }

    static UniqueFd listen_on(const std::string& path) {
        ::unlink(path.c_str());
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
        const sockaddr_un address = address_of(path);
        EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)),
                  0);
        EXPECT_EQ(::listen(fd.get(), 4), 0);
        return fd;
    }

    /// Lets the muxer handle whatever host events are pending.
    void pump() {
        std::array<epoll_event, 16> events{};
        for (int round = 0; round < 5; ++round) {
            const int count = m_muxer->wait(events, 20);
            m_muxer->handle(std::span(events.data(), static_cast<std::size_t>(count)));
        }
    }

    static PacketHeader guest_packet(Op op, std::uint32_t src_port, std::uint32_t dst_port) {
        PacketHeader header;
        header.src_cid = guest;
        header.dst_cid = host_cid;
        header.src_port = src_port;
        header.dst_port = dst_port;
        header.op = static_cast<std::uint16_t>(op);
        header.buf_alloc = 65536;
        return header;
    }

    std::string m_path;
    std::unique_ptr<VsockMuxer> m_muxer;
    std::vector<std::uint8_t> m_buffer = std::vector<std::uint8_t>(max_payload);
};

TEST_F(VsockMuxerTest, RefusesAnExistingPath) {
    auto second = VsockMuxer::create(m_path, guest);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find(m_path), std::string::npos);
}

TEST_F(VsockMuxerTest, HostConnectHandshakeReachesTheGuestAndGetsOk) {
    UniqueFd client = connect_to(m_path);
    ASSERT_TRUE(client.valid());
    const std::string line = "CONNECT 1234\nfirst";
    ASSERT_EQ(::send(client.get(), line.data(), line.size(), 0), static_cast<ssize_t>(line.size()));
    pump();
    auto request = m_muxer->next_rx(m_buffer);
    ASSERT_TRUE(request);
    EXPECT_EQ(request->operation(), Op::request);
    EXPECT_EQ(request->dst_port, 1234u);
    EXPECT_EQ(request->src_port, VsockMuxer::first_local_port);
    EXPECT_EQ(request->dst_cid, guest);
    m_muxer->on_guest_packet(guest_packet(Op::response, 1234, request->src_port), {});
    std::array<char, 64> reply{};
    const ssize_t got = ::recv(client.get(), reply.data(), reply.size(), 0);
    EXPECT_EQ(std::string(reply.data(), static_cast<std::size_t>(got)), "OK 1073741824\n");
    // The bytes after the CONNECT line are the stream's first data.
    pump();
    auto data = m_muxer->next_rx(m_buffer);
    ASSERT_TRUE(data);
    EXPECT_EQ(data->operation(), Op::rw);
    EXPECT_EQ(std::string(m_buffer.begin(), m_buffer.begin() + data->length), "first");
}

TEST_F(VsockMuxerTest, BadHandshakeClosesTheClient) {
    UniqueFd client = connect_to(m_path);
    const std::string line = "CONNECT nope\n";
    ASSERT_EQ(::send(client.get(), line.data(), line.size(), 0), static_cast<ssize_t>(line.size()));
    pump();
    EXPECT_FALSE(m_muxer->has_rx());
    char byte = 0;
    EXPECT_EQ(::recv(client.get(), &byte, 1, 0), 0); // closed by Vessel
}

TEST_F(VsockMuxerTest, GuestConnectReachesPathUnderscorePort) {
    UniqueFd listener = listen_on(m_path + "_7000");
    m_muxer->on_guest_packet(guest_packet(Op::request, 3333, 7000), {});
    auto response = m_muxer->next_rx(m_buffer);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->operation(), Op::response);
    EXPECT_EQ(response->src_port, 7000u);
    EXPECT_EQ(response->dst_port, 3333u);
    UniqueFd accepted(::accept(listener.get(), nullptr, nullptr));
    ASSERT_TRUE(accepted.valid());
    const std::string text = "from guest";
    PacketHeader data = guest_packet(Op::rw, 3333, 7000);
    data.length = static_cast<std::uint32_t>(text.size());
    m_muxer->on_guest_packet(data,
                             {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
    std::array<char, 64> got{};
    const ssize_t count = ::recv(accepted.get(), got.data(), got.size(), 0);
    EXPECT_EQ(std::string(got.data(), static_cast<std::size_t>(count)), text);
    EXPECT_EQ(m_muxer->connection_count(), 1u);
    ::unlink((m_path + "_7000").c_str());
}

TEST_F(VsockMuxerTest, GuestConnectWithoutListenerAndStrayPacketsGetReset) {
    m_muxer->on_guest_packet(guest_packet(Op::request, 3333, 7001), {});
    auto reset = m_muxer->next_rx(m_buffer);
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->operation(), Op::rst);
    EXPECT_EQ(reset->dst_port, 3333u);
    m_muxer->on_guest_packet(guest_packet(Op::credit_update, 1, 2), {});
    reset = m_muxer->next_rx(m_buffer);
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->operation(), Op::rst);
    m_muxer->on_guest_packet(guest_packet(Op::rst, 1, 2), {}); // an RST is never answered
    EXPECT_FALSE(m_muxer->has_rx());
    EXPECT_EQ(m_muxer->connection_count(), 0u);
}

} // namespace
} // namespace vessel::virtio::vsock
