// Cgroup tests: settings parsing, version detection and both layouts on a fake cgroup tree.
#include "sandbox/cgroup.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace vessel::sandbox {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& path) {
    std::ifstream file(path);
    std::string text;
    std::getline(file, text);
    return text;
}

class FakeCgroupTree : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/vessel-cgroup-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_root = pattern;
    }
    void TearDown() override { fs::remove_all(m_root); }
    fs::path m_root;
};

TEST(CgroupSettingTest, ParsesControllerFiles) {
    auto setting = parse_cgroup_setting("cpu.weight=300");
    ASSERT_TRUE(setting) << setting.error().message;
    EXPECT_EQ(setting->file, "cpu.weight");
    EXPECT_EQ(setting->value, "300");
    EXPECT_EQ(parse_cgroup_setting("memory.max=512M")->value, "512M");
}

TEST(CgroupSettingTest, RefusesWhatIsNotAControllerFile) {
    for (const char* text : {"cpu.weight", "=3", "cpu.weight=", "weight=3", "../../etc/x.y=1",
                             "cgroup.procs=1", ".cpu=1"}) {
        auto setting = parse_cgroup_setting(text);
        EXPECT_FALSE(setting) << text;
        if (!setting) {
            EXPECT_NE(setting.error().message.find(text), std::string::npos) << text;
        }
    }
}

TEST_F(FakeCgroupTree, DetectsTheVersion) {
    EXPECT_EQ(detect_cgroup_version(m_root), CgroupVersion::V1);
    std::ofstream(m_root / "cgroup.controllers") << "cpu memory pids\n";
    EXPECT_EQ(detect_cgroup_version(m_root), CgroupVersion::V2);
}

TEST_F(FakeCgroupTree, V1WritesEachControllersHierarchy) {
    fs::create_directories(m_root / "cpu,cpuacct"); // joined hierarchy, as Debian mounts it
    fs::create_directories(m_root / "memory");
    auto applied = apply_cgroup(CgroupVersion::V1, "vm1",
                                {{"cpu.shares", "768"}, {"memory.limit_in_bytes", "600M"}}, 4242,
                                m_root.string());
    ASSERT_TRUE(applied) << applied.error().message;
    EXPECT_EQ(read(m_root / "cpu,cpuacct/vessel/vm1/cpu.shares"), "768");
    EXPECT_EQ(read(m_root / "cpu,cpuacct/vessel/vm1/cgroup.procs"), "4242");
    EXPECT_EQ(read(m_root / "memory/vessel/vm1/memory.limit_in_bytes"), "600M");
    EXPECT_EQ(read(m_root / "memory/vessel/vm1/cgroup.procs"), "4242");
}

TEST_F(FakeCgroupTree, V1NamesAMissingController) {
    auto applied = apply_cgroup(CgroupVersion::V1, "vm1", {{"pids.max", "10"}}, 1, m_root.string());
    ASSERT_FALSE(applied);
    EXPECT_NE(applied.error().message.find("'pids'"), std::string::npos) << applied.error().message;
}

TEST_F(FakeCgroupTree, V2EnablesControllersOnTheWayDown) {
    std::ofstream(m_root / "cgroup.controllers") << "cpu memory\n";
    auto applied = apply_cgroup(CgroupVersion::V2, "vm2",
                                {{"cpu.weight", "300"}, {"memory.max", "1G"}}, 77, m_root.string());
    ASSERT_TRUE(applied) << applied.error().message;
    // A fake tree keeps only the last write of each file: the enabling is there.
    EXPECT_EQ(read(m_root / "cgroup.subtree_control").front(), '+');
    EXPECT_EQ(read(m_root / "vessel/cgroup.subtree_control").front(), '+');
    EXPECT_EQ(read(m_root / "vessel/vm2/cpu.weight"), "300");
    EXPECT_EQ(read(m_root / "vessel/vm2/memory.max"), "1G");
    EXPECT_EQ(read(m_root / "vessel/vm2/cgroup.procs"), "77");
}

TEST_F(FakeCgroupTree, NoSettingsTouchNothing) {
    ASSERT_TRUE(apply_cgroup(CgroupVersion::V2, "vm3", {}, 1, m_root.string()));
    EXPECT_FALSE(fs::exists(m_root / "vessel"));
}

} // namespace
} // namespace vessel::sandbox
