// The machine section: layouts 1 and 2 (balloon, page sharing), and what a reader refuses.
#include "vm/snapshot/machine_config_state.hpp"

#include <gtest/gtest.h>

namespace vessel::snapshot {
namespace {

MachineSection with_balloon() {
    MachineSection section;
    section.config.memory_size = 64u << 20;
    section.config.balloon = BalloonConfig{16, true, 5, true};
    section.config.page_sharing = true;
    section.config.vsock = VsockConfig{7, "/tmp/v.sock"};
    return section;
}

TEST(MachineSection, TheBalloonAndPageSharingComeBack) {
    auto decoded = decode_machine(encode_machine(with_balloon()));
    ASSERT_TRUE(decoded) << decoded.error().message;
    ASSERT_TRUE(decoded->config.balloon);
    EXPECT_EQ(decoded->config.balloon->target_mib, 16u);
    EXPECT_TRUE(decoded->config.balloon->deflate_on_oom);
    EXPECT_EQ(decoded->config.balloon->stats_interval_s, 5u);
    EXPECT_TRUE(decoded->config.balloon->free_page_reporting);
    EXPECT_TRUE(decoded->config.page_sharing);
    ASSERT_TRUE(decoded->config.vsock);
    EXPECT_EQ(decoded->config.vsock->uds_path, "/tmp/v.sock");
}

TEST(MachineSection, Version1IsStillReadAndHasNoBalloon) {
    MachineSection plain;
    std::vector<std::uint8_t> bytes = encode_machine(plain);
    // Layout 2 ends with "no balloon" (one byte) and page sharing (one byte): without them it
    // is layout 1.
    ASSERT_GE(bytes.size(), 2u);
    bytes.resize(bytes.size() - 2);
    auto decoded = decode_machine(bytes, 1);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_FALSE(decoded->config.balloon);
    EXPECT_FALSE(decoded->config.page_sharing);
    // The same bytes are a cut layout 2.
    EXPECT_FALSE(decode_machine(bytes, 2));
}

TEST(MachineSection, BadVersionsAndBalloonsAreRefused) {
    auto newer = decode_machine(encode_machine(MachineSection{}), 3);
    ASSERT_FALSE(newer);
    EXPECT_NE(newer.error().message.find("version 3, this Vessel reads versions 1 to 2"),
              std::string::npos)
        << newer.error().message;
    MachineSection too_big = with_balloon();
    too_big.config.balloon->target_mib = 65; // more than the 64 MiB of RAM
    auto refused = decode_machine(encode_machine(too_big));
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("balloon target"), std::string::npos)
        << refused.error().message;
}

} // namespace
} // namespace vessel::snapshot
