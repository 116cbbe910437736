// Tests of `--vsock [CID:]PATH` parsing.
#include "cli/vsock_option.hpp"

#include <gtest/gtest.h>

namespace vessel {
namespace {

TEST(VsockOption, CidAndPath) {
    auto config = parse_vsock_option("42:/tmp/v.sock");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->guest_cid, 42u);
    EXPECT_EQ(config->uds_path, "/tmp/v.sock");
}

TEST(VsockOption, PathAloneGetsCidThree) {
    auto config = parse_vsock_option("/tmp/a:b.sock");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->guest_cid, 3u);
    EXPECT_EQ(config->uds_path, "/tmp/a:b.sock");
}

TEST(VsockOption, ReservedOrHugeCidOrNoPathRefused) {
    auto reserved = parse_vsock_option("2:/tmp/v.sock");
    ASSERT_FALSE(reserved);
    EXPECT_NE(reserved.error().message.find("reserved"), std::string::npos);
    EXPECT_FALSE(parse_vsock_option("99999999999:/tmp/v.sock"));
    EXPECT_FALSE(parse_vsock_option("7:"));
    EXPECT_FALSE(parse_vsock_option(""));
}

} // namespace
} // namespace vessel
