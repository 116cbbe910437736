// Migration URLs: the forms accepted and the messages for the rest.
#include "vm/migration/migration_url.hpp"

#include <gtest/gtest.h>

using namespace vessel::migration;

TEST(MigrationUrl, UnixAndTcpForms) {
    auto unix_url = parse_migration_url("unix:/tmp/a.sock").value();
    EXPECT_EQ(unix_url.kind, MigrationUrl::Kind::Unix);
    EXPECT_EQ(unix_url.path, "/tmp/a.sock");
    auto tcp = parse_migration_url("tcp:127.0.0.1:6000").value();
    EXPECT_EQ(tcp.kind, MigrationUrl::Kind::Tcp);
    EXPECT_EQ(tcp.host, "127.0.0.1");
    EXPECT_EQ(tcp.port, 6000);
    auto v6 = parse_migration_url("tcp:[::1]:7000").value();
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.port, 7000);
}

TEST(MigrationUrl, BadFormsAreNamed) {
    auto message = [](const char* text) { return parse_migration_url(text).error().message; };
    EXPECT_EQ(message("ftp://x"), "migration URL 'ftp://x': expected unix:PATH or tcp:HOST:PORT");
    EXPECT_EQ(message("unix:"), "migration URL unix:: no socket path");
    EXPECT_EQ(message("tcp:host"), "migration URL tcp:host: no port");
    EXPECT_EQ(message("tcp::80"), "migration URL tcp::80: no host");
    EXPECT_EQ(message("tcp:h:0"),
              "migration URL tcp:h:0: port '0' is not a number from 1 to 65535");
    EXPECT_EQ(message("tcp:h:70000"),
              "migration URL tcp:h:70000: port '70000' is not a number from 1 to 65535");
    EXPECT_EQ(message("tcp:[::1]7000"), "migration URL tcp:[::1]7000: expected tcp:[IPv6]:PORT");
}
