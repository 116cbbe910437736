// Tests for the default disk names: vda to vdz, then vdaa as Linux goes on, never wrapping.
#include "vm/disk_name.hpp"

#include <gtest/gtest.h>

#include <set>

namespace vessel {
namespace {

// The Nth disk (counting from 1) is at index N - 1.
TEST(DefaultDiskName, FollowsLinuxPast26Disks) {
    EXPECT_EQ(default_disk_name(1 - 1), "vda");
    EXPECT_EQ(default_disk_name(26 - 1), "vdz");
    EXPECT_EQ(default_disk_name(27 - 1), "vdaa");
    EXPECT_EQ(default_disk_name(28 - 1), "vdab");
    EXPECT_EQ(default_disk_name(52 - 1), "vdaz");
    EXPECT_EQ(default_disk_name(53 - 1), "vdba");
    EXPECT_EQ(default_disk_name(702 - 1), "vdzz");
    EXPECT_EQ(default_disk_name(703 - 1), "vdaaa");
}

TEST(DefaultDiskName, EveryNameIsDistinctAndLowercase) {
    std::set<std::string> names;
    for (std::size_t index = 0; index < 1000; ++index) {
        const std::string name = default_disk_name(index);
        EXPECT_TRUE(names.insert(name).second) << name << " given twice";
        for (char c : name)
            EXPECT_TRUE(c >= 'a' && c <= 'z') << name;
    }
}

} // namespace
} // namespace vessel
