// parse_memory_size: units, defaults and rejections.
#include "cli/size_option.hpp"

#include <gtest/gtest.h>

using vessel::parse_memory_size;

TEST(MemorySize, Units) {
    EXPECT_EQ(parse_memory_size("256M").value(), 256u << 20);
    EXPECT_EQ(parse_memory_size("256").value(), 256u << 20);
    EXPECT_EQ(parse_memory_size("1G").value(), 1u << 30);
    EXPECT_EQ(parse_memory_size("2GiB").value(), 2ull << 30);
    EXPECT_EQ(parse_memory_size("512k").value(), 512u << 10);
    EXPECT_EQ(parse_memory_size("64MB").value(), 64u << 20);
    EXPECT_EQ(parse_memory_size("1T").value(), 1ull << 40);
}

TEST(MemorySize, Rejections) {
    EXPECT_FALSE(parse_memory_size(""));
    EXPECT_FALSE(parse_memory_size("M"));
    EXPECT_FALSE(parse_memory_size("-5M"));
    EXPECT_FALSE(parse_memory_size("1.5G"));
    EXPECT_FALSE(parse_memory_size("12X"));
    EXPECT_FALSE(parse_memory_size("99999999999999999999"));
    EXPECT_FALSE(parse_memory_size("99999999999999T"));
    EXPECT_NE(parse_memory_size("12X").error().message.find("12X"), std::string::npos);
}
