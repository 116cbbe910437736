// Tests of `--balloon SPEC` parsing.
#include "cli/balloon_option.hpp"

#include <gtest/gtest.h>

namespace vessel {
namespace {

constexpr std::uint64_t memory = 512u << 20;

TEST(BalloonOption, AllItems) {
    auto config = parse_balloon_option("128M,deflate-on-oom,stats=5,no-reporting", memory);
    ASSERT_TRUE(config) << config.error().message;
    ASSERT_TRUE(*config);
    EXPECT_EQ((*config)->target_mib, 128u);
    EXPECT_TRUE((*config)->deflate_on_oom);
    EXPECT_EQ((*config)->stats_interval_s, 5u);
    EXPECT_FALSE((*config)->free_page_reporting);
}

TEST(BalloonOption, EmptyTargetWithReportingByDefault) {
    auto config = parse_balloon_option("reporting", memory);
    ASSERT_TRUE(config && *config);
    EXPECT_EQ((*config)->target_mib, 0u);
    EXPECT_TRUE((*config)->free_page_reporting);
    EXPECT_EQ((*config)->stats_interval_s, 0u);
    auto bare = parse_balloon_option("64", memory);
    ASSERT_TRUE(bare && *bare);
    EXPECT_EQ((*bare)->target_mib, 64u);
}

TEST(BalloonOption, NoneMeansNoBalloon) {
    auto config = parse_balloon_option("none", memory);
    ASSERT_TRUE(config);
    EXPECT_FALSE(*config);
}

TEST(BalloonOption, BadItemsAreNamed) {
    auto too_big = parse_balloon_option("1G", memory);
    ASSERT_FALSE(too_big);
    EXPECT_NE(too_big.error().message.find("larger than guest memory"), std::string::npos);
    auto unknown = parse_balloon_option("128M,bogus", memory);
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().message.find("'bogus'"), std::string::npos);
    EXPECT_FALSE(parse_balloon_option("stats=0", memory));
    EXPECT_FALSE(parse_balloon_option("stats=70000", memory));
    EXPECT_FALSE(parse_balloon_option("stats=x", memory));
    EXPECT_FALSE(parse_balloon_option("-5M", memory));
}

} // namespace
} // namespace vessel
