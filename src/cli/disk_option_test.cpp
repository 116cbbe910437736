// --disk parsing: paths, the readonly flag, errors naming the bad part.
#include "cli/disk_option.hpp"

#include <gtest/gtest.h>

using vessel::parse_disk_option;

TEST(DiskOption, PathAndReadonly) {
    auto plain = parse_disk_option("/tmp/disk.img").value();
    EXPECT_EQ(plain.path, "/tmp/disk.img");
    EXPECT_FALSE(plain.read_only);
    EXPECT_TRUE(parse_disk_option("a.img,readonly").value().read_only);
    EXPECT_TRUE(parse_disk_option("a.img,ro").value().read_only);
}

TEST(DiskOption, RootFlag) {
    EXPECT_FALSE(parse_disk_option("a.img").value().root);
    auto root = parse_disk_option("a.img,root").value();
    EXPECT_TRUE(root.root);
    EXPECT_FALSE(root.read_only);
    auto both = parse_disk_option("a.img,readonly,root").value();
    EXPECT_TRUE(both.root);
    EXPECT_TRUE(both.read_only);
}

TEST(DiskOption, RejectsEmptyPathsAndUnknownOptions) {
    EXPECT_FALSE(parse_disk_option(""));
    EXPECT_FALSE(parse_disk_option(",readonly"));
    auto bad = parse_disk_option("a.img,cache=none");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("cache=none"), std::string::npos);
    EXPECT_FALSE(parse_disk_option("a.img,"));
}
