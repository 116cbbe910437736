// HostForward: QEMU hostfwd syntax, defaults, and clear errors for bad input.
#include "backends/net/host_forward.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

using namespace vessel;

namespace {
std::string address_text(in_addr address) {
    char buffer[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &address, buffer, sizeof(buffer));
    return buffer;
}

std::string parse_error(std::string_view text) {
    auto result = HostForward::parse(text);
    EXPECT_FALSE(result.has_value()) << text;
    return result ? std::string() : result.error().message;
}
} // namespace

TEST(HostForward, ParsesFullForm) {
    auto forward = HostForward::parse("tcp:127.0.0.1:2222-10.0.2.16:22");
    ASSERT_TRUE(forward.has_value()) << forward.error().message;
    EXPECT_EQ(forward->protocol, HostForward::Protocol::tcp);
    EXPECT_EQ(address_text(forward->host_address), "127.0.0.1");
    EXPECT_EQ(forward->host_port, 2222);
    EXPECT_EQ(address_text(forward->guest_address), "10.0.2.16");
    EXPECT_EQ(forward->guest_port, 22);
}

TEST(HostForward, OptionalPartsTakeQemuDefaults) {
    auto forward = HostForward::parse("udp::5353-:53");
    ASSERT_TRUE(forward.has_value()) << forward.error().message;
    EXPECT_EQ(forward->protocol, HostForward::Protocol::udp);
    EXPECT_EQ(forward->host_address.s_addr, INADDR_ANY);
    EXPECT_EQ(forward->guest_address.s_addr, INADDR_ANY);
    EXPECT_EQ(forward->host_port, 5353);
    EXPECT_EQ(forward->guest_port, 53);

    auto empty_protocol = HostForward::parse(":127.0.0.1:8080-:80");
    ASSERT_TRUE(empty_protocol.has_value());
    EXPECT_EQ(empty_protocol->protocol, HostForward::Protocol::tcp);
    EXPECT_EQ(empty_protocol->to_string(), "tcp:127.0.0.1:8080-:80");
}

TEST(HostForward, BadInputsNameTheProblem) {
    EXPECT_NE(parse_error("sctp:127.0.0.1:1-:2").find("protocol 'sctp'"), std::string::npos);
    EXPECT_NE(parse_error("tcp:127.0.0.1:2222").find("missing '-'"), std::string::npos);
    EXPECT_NE(parse_error("tcp:127.0.0.1:2222-22").find("guest side '22'"), std::string::npos);
    EXPECT_NE(parse_error("tcp:1.2.3:2222-:22").find("host address '1.2.3'"), std::string::npos);
    EXPECT_NE(parse_error("tcp:127.0.0.1:70000-:22").find("host port '70000'"), std::string::npos);
    EXPECT_NE(parse_error("tcp:127.0.0.1:0-:22").find("host port '0'"), std::string::npos);
    EXPECT_NE(parse_error("tcp::2222-:ssh").find("guest port 'ssh'"), std::string::npos);
    EXPECT_NE(parse_error("tcp::-:22").find("host port ''"), std::string::npos);
    EXPECT_NE(parse_error("garbage").find("hostfwd 'garbage'"), std::string::npos);
}
