// Tests of --gdb address parsing.
#include "gdb/gdb_address.hpp"

#include <gtest/gtest.h>

namespace vessel::gdb {
namespace {

TEST(GdbAddress, ParsesTcpAndUnix) {
    auto tcp = parse_gdb_address("tcp:127.0.0.1:1234");
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->kind, GdbAddress::Kind::Tcp);
    EXPECT_EQ(tcp->host, "127.0.0.1");
    EXPECT_EQ(tcp->port, 1234);
    EXPECT_EQ(parse_gdb_address("tcp::1234")->host, "127.0.0.1");
    auto unix_socket = parse_gdb_address("unix:/tmp/g.sock");
    ASSERT_TRUE(unix_socket);
    EXPECT_EQ(unix_socket->path, "/tmp/g.sock");
}

TEST(GdbAddress, ErrorsNameTheInput) {
    for (const char* bad :
         {"1234", "tcp:host", "tcp:host:0", "tcp:host:70000", "tcp:host:12x", "unix:", "udp:1:2"}) {
        auto parsed = parse_gdb_address(bad);
        ASSERT_FALSE(parsed) << bad;
        EXPECT_NE(parsed.error().message.find(bad), std::string::npos) << parsed.error().message;
    }
}

} // namespace
} // namespace vessel::gdb
