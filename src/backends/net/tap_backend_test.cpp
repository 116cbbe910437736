// TapBackend: name checks, and frames both ways through a real TAP interface when run as root.
#include "backends/net/tap_backend.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "backends/net/tap_test_support.hpp"
#include "base/unique_fd.hpp"

using namespace vessel;

namespace {
constexpr std::uint16_t test_ethertype = 0x88b5; // IEEE 802 local experimental ethertype 1

std::vector<std::uint8_t> test_frame(std::uint8_t marker) {
    std::vector<std::uint8_t> frame = {
        0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, test_ethertype >> 8, test_ethertype & 0xff};
    frame.resize(60, marker);
    return frame;
}

/// A host-side raw socket on the TAP interface, or an invalid fd when that is not possible here.
UniqueFd open_host_side(const std::string& test_interface) {
    UniqueFd control(::socket(AF_INET, SOCK_DGRAM, 0));
    ifreq request{};
    std::strncpy(request.ifr_name, test_interface.c_str(), IFNAMSIZ - 1);
    if (::ioctl(control.get(), SIOCGIFFLAGS, &request) < 0) return {};
    request.ifr_flags |= IFF_UP;
    if (::ioctl(control.get(), SIOCSIFFLAGS, &request) < 0) return {};
    UniqueFd packet(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(test_ethertype)));
    sockaddr_ll address{.sll_family = AF_PACKET,
                        .sll_protocol = htons(test_ethertype),
                        .sll_ifindex = static_cast<int>(::if_nametoindex(test_interface.c_str()))};
    if (::bind(packet.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) < 0) return {};
    return packet;
}
} // namespace

TEST(TapBackend, RejectsBadNames) {
    auto empty = TapBackend::create("");
    ASSERT_FALSE(empty.has_value());
    EXPECT_NE(empty.error().message.find("name must have"), std::string::npos);
    auto long_name = TapBackend::create("a-very-long-interface-name");
    ASSERT_FALSE(long_name.has_value());
    EXPECT_NE(long_name.error().message.find("a-very-long-interface-name"), std::string::npos);
}

TEST(TapBackend, RefusesAMissingInterfaceAndCreatesNone) {
    const std::string missing = fmt::format("vnotap{}", ::getpid());
    auto backend = TapBackend::create(missing);
    ASSERT_FALSE(backend.has_value());
    EXPECT_NE(backend.error().message.find("TAP interface '" + missing + "' does not exist"),
              std::string::npos)
        << backend.error().message;
    EXPECT_NE(::access(("/sys/class/net/" + missing).c_str(), F_OK), 0) << "an interface appeared";
    auto loopback = TapBackend::create("lo");
    ASSERT_FALSE(loopback.has_value());
    EXPECT_NE(loopback.error().message.find("not a TAP interface"), std::string::npos)
        << loopback.error().message;
    EXPECT_FALSE(TapBackend::create("../lo").has_value());
}

TEST(TapBackend, FramesCrossTheInterfaceBothWays) {
    if (::geteuid() != 0 || ::access("/dev/net/tun", R_OK | W_OK) != 0)
        GTEST_SKIP() << "needs root and /dev/net/tun";
    // Named after the process so parallel test runs (build, build-asan) do not collide.
    const std::string test_interface = fmt::format("vessel{}", ::getpid());
    vessel::testing::ScopedTapInterface tap(test_interface);
    ASSERT_TRUE(tap.created()) << "cannot create " << test_interface;
    auto backend = TapBackend::create(test_interface);
    ASSERT_TRUE(backend.has_value()) << backend.error().message;
    UniqueFd host = open_host_side(test_interface);
    if (!host.valid()) GTEST_SKIP() << "cannot bring " << test_interface << " up here";

    // Host to guest: a frame written on the host side comes out of receive().
    const auto inbound = test_frame(0x11);
    ASSERT_EQ(::send(host.get(), inbound.data(), inbound.size(), 0),
              static_cast<ssize_t>(inbound.size()));
    std::optional<EthernetFrame> received;
    // A deadline only turns a hang into a failure.
    for (int attempt = 0; attempt < 1000 && !received; ++attempt) {
        while (auto frame = (*backend)->receive())
            if (frame->size() >= 14 && (*frame)[12] == 0x88 && (*frame)[13] == 0xb5)
                received = frame;
        if (!received) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(received.has_value()) << "frame never reached the back-end";
    EXPECT_EQ(*received, inbound);

    // Guest to host: send() appears on the host side.
    const auto outbound = test_frame(0x22);
    (*backend)->send(outbound);
    pollfd ready{.fd = host.get(), .events = POLLIN, .revents = 0};
    ASSERT_EQ(::poll(&ready, 1, 10000), 1) << "frame never reached the host";
    std::vector<std::uint8_t> buffer(2048);
    const ssize_t length = ::recv(host.get(), buffer.data(), buffer.size(), 0);
    ASSERT_GT(length, 0);
    buffer.resize(static_cast<std::size_t>(length));
    EXPECT_EQ(buffer, outbound);
}
