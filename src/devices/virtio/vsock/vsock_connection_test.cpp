// Tests of the vsock connection state machine and its credit accounting, on a real socketpair.
#include "devices/virtio/vsock/vsock_connection.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vessel::virtio::vsock {
namespace {

constexpr std::uint64_t guest = 3;
constexpr std::uint32_t guest_port = 1000;
constexpr std::uint32_t host_port = 52;

class VsockConnectionTest : public ::testing::Test {
  protected:
    void SetUp() override {
        int fds[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
        m_vessel_end = UniqueFd(fds[0]);
        m_host = UniqueFd(fds[1]);
    }

    static PacketHeader from_guest_packet(Op op, std::uint32_t length = 0) {
        PacketHeader header;
        header.src_cid = guest;
        header.dst_cid = host_cid;
        header.src_port = guest_port;
        header.dst_port = host_port;
        header.length = length;
        header.op = static_cast<std::uint16_t>(op);
        header.buf_alloc = 64 * 1024;
        return header;
    }

    VsockConnection guest_connection() {
        VsockConnection connection =
            VsockConnection::from_guest(std::move(m_vessel_end), from_guest_packet(Op::request));
        auto response = connection.next_rx(m_buffer);
        EXPECT_TRUE(response && response->operation() == Op::response);
        return connection;
    }

    std::string read_host(std::size_t most = 1 << 20) {
        std::string data(most, '\0');
        const ssize_t got = ::recv(m_host.get(), data.data(), data.size(), MSG_DONTWAIT);
        data.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
        return data;
    }

    UniqueFd m_vessel_end;
    UniqueFd m_host;
    std::vector<std::uint8_t> m_buffer = std::vector<std::uint8_t>(max_payload);
};

TEST_F(VsockConnectionTest, GuestRequestGetsResponseFromTheRightPorts) {
    VsockConnection connection =
        VsockConnection::from_guest(std::move(m_vessel_end), from_guest_packet(Op::request));
    ASSERT_TRUE(connection.has_rx());
    auto response = connection.next_rx(m_buffer);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->operation(), Op::response);
    EXPECT_EQ(response->src_cid, host_cid);
    EXPECT_EQ(response->dst_cid, guest);
    EXPECT_EQ(response->src_port, host_port);
    EXPECT_EQ(response->dst_port, guest_port);
    EXPECT_EQ(response->buf_alloc, VsockConnection::buffer_size);
    EXPECT_FALSE(connection.has_rx());
    EXPECT_EQ(connection.state(), VsockConnection::State::established);
}

TEST_F(VsockConnectionTest, GuestDataReachesTheHostAndCountsAsForwarded) {
    VsockConnection connection = guest_connection();
    const std::string text = "hello host";
    connection.on_guest_packet(from_guest_packet(Op::rw, static_cast<std::uint32_t>(text.size())),
                               {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
    EXPECT_EQ(read_host(), text);
    EXPECT_EQ(connection.guest_credit(), VsockConnection::buffer_size);
    // Below the update threshold: nothing owed; a CREDIT_REQUEST gets the count at once.
    EXPECT_FALSE(connection.has_rx());
    connection.on_guest_packet(from_guest_packet(Op::credit_request), {});
    auto update = connection.next_rx(m_buffer);
    ASSERT_TRUE(update);
    EXPECT_EQ(update->operation(), Op::credit_update);
    EXPECT_EQ(update->fwd_cnt, text.size());
}

TEST_F(VsockConnectionTest, HostDataGoesToTheGuestWithinItsCredit) {
    VsockConnection connection = guest_connection();
    const std::string text(100'000, 'x');
    ASSERT_EQ(::send(m_host.get(), text.data(), text.size(), 0), static_cast<ssize_t>(text.size()));
    connection.on_host_readable();
    std::uint64_t received = 0;
    while (auto packet = connection.next_rx(m_buffer)) {
        ASSERT_EQ(packet->operation(), Op::rw);
        received += packet->length;
    }
    // The guest advertised 64 KiB and has consumed nothing: exactly that much is sent.
    EXPECT_EQ(received, 64u * 1024);
    EXPECT_EQ(connection.peer_credit(), 0u);
    EXPECT_FALSE(connection.has_rx());
    PacketHeader update = from_guest_packet(Op::credit_update);
    update.fwd_cnt = 64 * 1024;
    connection.on_guest_packet(update, {});
    while (auto packet = connection.next_rx(m_buffer))
        received += packet->length;
    EXPECT_EQ(received, text.size());
}

TEST_F(VsockConnectionTest, DataBeyondCreditResets) {
    VsockConnection connection = guest_connection();
    // The host does not read: the socket buffer fills, then Vessel's 256 KiB; one byte more is
    // a credit violation.
    std::vector<std::uint8_t> chunk(max_payload, 7);
    bool reset = false;
    int credit_updates = 0;
    for (int i = 0; i < 1000 && !reset; ++i) {
        connection.on_guest_packet(from_guest_packet(Op::rw, max_payload), chunk);
        while (auto packet = connection.next_rx(m_buffer)) {
            reset |= packet->operation() == Op::rst;
            credit_updates += packet->operation() == Op::credit_update;
        }
    }
    // What the host socket took was announced; what overran the 256 KiB buffer was refused.
    EXPECT_GT(credit_updates, 0);
    EXPECT_TRUE(reset);
    EXPECT_EQ(connection.state(), VsockConnection::State::closed);
}

TEST_F(VsockConnectionTest, HostEndOfFileIsShutdownSendThenGuestCloseGetsReset) {
    VsockConnection connection = guest_connection();
    ::shutdown(m_host.get(), SHUT_WR);
    connection.on_host_readable();
    auto shutdown = connection.next_rx(m_buffer);
    ASSERT_TRUE(shutdown);
    EXPECT_EQ(shutdown->operation(), Op::shutdown);
    EXPECT_EQ(shutdown->flags, shutdown_send);
    // The guest can still send after the host's end of file.
    const std::string text = "late";
    connection.on_guest_packet(from_guest_packet(Op::rw, 4),
                               {reinterpret_cast<const std::uint8_t*>(text.data()), 4});
    EXPECT_EQ(read_host(), text);
    PacketHeader close = from_guest_packet(Op::shutdown);
    close.flags = shutdown_send | shutdown_receive;
    connection.on_guest_packet(close, {});
    auto reset = connection.next_rx(m_buffer);
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->operation(), Op::rst);
    EXPECT_EQ(connection.state(), VsockConnection::State::closed);
}

TEST_F(VsockConnectionTest, GuestResetClosesWithoutAnswer) {
    VsockConnection connection = guest_connection();
    connection.on_guest_packet(from_guest_packet(Op::rst), {});
    EXPECT_EQ(connection.state(), VsockConnection::State::closed);
    EXPECT_FALSE(connection.next_rx(m_buffer));
}

TEST_F(VsockConnectionTest, HostInitiatedSendsRequestAndAnswersOkOnResponse) {
    VsockConnection connection = VsockConnection::from_host(
        std::move(m_vessel_end), guest, 1u << 30, 5000, VsockConnection::Clock::now());
    auto request = connection.next_rx(m_buffer);
    ASSERT_TRUE(request);
    EXPECT_EQ(request->operation(), Op::request);
    EXPECT_EQ(request->src_port, 1u << 30);
    EXPECT_EQ(request->dst_port, 5000u);
    EXPECT_EQ(request->dst_cid, guest);
    PacketHeader response;
    response.src_cid = guest;
    response.dst_cid = host_cid;
    response.src_port = 5000;
    response.dst_port = 1u << 30;
    response.op = static_cast<std::uint16_t>(Op::response);
    response.buf_alloc = 4096;
    connection.on_guest_packet(response, {});
    EXPECT_EQ(connection.state(), VsockConnection::State::established);
    EXPECT_EQ(read_host(), "OK 1073741824\n");
}

TEST_F(VsockConnectionTest, HostInitiatedDataBeforeResponseResets) {
    VsockConnection connection = VsockConnection::from_host(
        std::move(m_vessel_end), guest, 1u << 30, 5000, VsockConnection::Clock::now());
    (void)connection.next_rx(m_buffer);
    PacketHeader data = from_guest_packet(Op::rw, 1);
    const std::uint8_t byte = 1;
    connection.on_guest_packet(data, {&byte, 1});
    auto reset = connection.next_rx(m_buffer);
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->operation(), Op::rst);
}

TEST_F(VsockConnectionTest, UnansweredRequestTimesOut) {
    const auto start = VsockConnection::Clock::now();
    VsockConnection connection =
        VsockConnection::from_host(std::move(m_vessel_end), guest, 1u << 30, 5000, start);
    (void)connection.next_rx(m_buffer);
    connection.check_deadline(start + VsockConnection::timeout / 2);
    EXPECT_FALSE(connection.has_rx());
    connection.check_deadline(start + VsockConnection::timeout);
    auto reset = connection.next_rx(m_buffer);
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->operation(), Op::rst);
}

} // namespace
} // namespace vessel::virtio::vsock
