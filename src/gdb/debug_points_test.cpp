// Tests of the breakpoint and watchpoint set.
#include "gdb/debug_points.hpp"

#include <gtest/gtest.h>

namespace vessel::gdb {
namespace {

TEST(DebugPoints, InsertIsIdempotentAndRemoveForgiving) {
    DebugPoints points(std::nullopt);
    ASSERT_TRUE(points.insert(0, 0x1000, 1));
    ASSERT_TRUE(points.insert(0, 0x1000, 1));
    ASSERT_TRUE(points.insert(1, 0x2000, 1));
    EXPECT_TRUE(points.has_breakpoint_at(0x1000));
    EXPECT_TRUE(points.has_breakpoint_at(0x2000));
    GuestDebug debug = points.guest_debug(false, true);
    EXPECT_EQ(debug.software_breakpoints.size(), 1u);
    ASSERT_TRUE(points.remove(0, 0x1000, 1));
    ASSERT_TRUE(points.remove(0, 0x1000, 1));
    EXPECT_FALSE(points.has_breakpoint_at(0x1000));
}

TEST(DebugPoints, WatchLengthsAreChecked) {
    DebugPoints points(std::nullopt);
    EXPECT_FALSE(points.insert(2, 0x1000, 0));
    EXPECT_FALSE(points.insert(3, 0x1000, DebugPoints::max_watch_length + 1));
    EXPECT_FALSE(points.insert(4, ~std::uint64_t{0}, 2));
    EXPECT_FALSE(points.insert(5, 0x1000, 1));
    ASSERT_TRUE(points.insert(3, 0x1000, 8));
    EXPECT_EQ(points.guest_debug(false, true).hardware_points.at(0).kind, DebugPointKind::Read);
}

TEST(DebugPoints, UnlimitedOnlyWithoutALimit) {
    DebugPoints unlimited(std::nullopt);
    for (std::uint64_t i = 0; i < 100; ++i)
        ASSERT_TRUE(unlimited.insert(2, 0x1000 + 8 * i, 8));
    DebugPoints limited(4);
    for (std::uint64_t i = 0; i < 4; ++i)
        ASSERT_TRUE(limited.insert(1, 0x1000 + i, 1));
    EXPECT_FALSE(limited.insert(0, 0x6000, 1));
    auto refused = limited.insert(2, 0x5000, 4);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("4 hardware debug registers"), std::string::npos);
}

TEST(DebugPoints, EmptySetDisablesDebugging) {
    DebugPoints points(std::nullopt);
    EXPECT_FALSE(points.guest_debug(false, true).enabled);
    EXPECT_TRUE(points.guest_debug(true, true).enabled);
}

} // namespace
} // namespace vessel::gdb
