// Jail tests: option parsing and the checks made before anything is changed on the host.
#include "sandbox/jail.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace vessel::sandbox {
namespace {

TEST(JailOptionsTest, ResourceLimitsUseFirecrackersNames) {
    auto files = parse_resource_limit("no-file=1024");
    ASSERT_TRUE(files) << files.error().message;
    EXPECT_EQ(files->resource, RLIMIT_NOFILE);
    EXPECT_EQ(files->value, 1024u);
    EXPECT_EQ(parse_resource_limit("fsize=0")->resource, RLIMIT_FSIZE);
    for (const char* text : {"no-file", "files=3", "no-file=-1", "no-file=12x", "fsize="})
        EXPECT_FALSE(parse_resource_limit(text)) << text;
}

TEST(JailOptionsTest, FilesGoToTheirBasenameOrTheGivenPath) {
    auto plain = parse_jail_file("/srv/images/vmlinux.bin");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->host_path, "/srv/images/vmlinux.bin");
    EXPECT_EQ(plain->jail_path, "/vmlinux.bin");
    auto placed = parse_jail_file("build/guest/vmlinuz:/guest/vmlinuz");
    ASSERT_TRUE(placed);
    EXPECT_EQ(placed->jail_path, "/guest/vmlinuz");
    for (const char* text : {":/x", "a:relative", "a:/../etc/passwd", "a:"})
        EXPECT_FALSE(parse_jail_file(text)) << text;
}

TEST(JailConfigTest, RootIsBaseExecNameId) {
    JailConfig config;
    config.id = "vm1";
    config.exec_file = "/usr/local/bin/vessel";
    config.chroot_base_dir = "/srv/jailer";
    EXPECT_EQ(jail_root(config), "/srv/jailer/vessel/vm1/root");
}

TEST(JailConfigTest, BadInputIsNamedBeforeAnythingChanges) {
    JailConfig config;
    config.exec_file = "/bin/true";
    config.id = "../escape";
    auto checked = check_jail_config(config);
    ASSERT_FALSE(checked);
    EXPECT_NE(checked.error().message.find("../escape"), std::string::npos);
    config.id = std::string(65, 'a');
    EXPECT_FALSE(check_jail_config(config));
    config.id = "vm-1";
    EXPECT_TRUE(check_jail_config(config));
    config.exec_file = "/nonexistent/vessel";
    checked = check_jail_config(config);
    ASSERT_FALSE(checked);
    EXPECT_NE(checked.error().message.find("/nonexistent/vessel"), std::string::npos);
    config.exec_file = "/bin/true";
    config.files.push_back({"/nonexistent/kernel", "/kernel"});
    EXPECT_FALSE(check_jail_config(config));
    config.files.clear();
    config.chroot_base_dir = "relative/dir";
    EXPECT_FALSE(check_jail_config(config));
}

} // namespace
} // namespace vessel::sandbox
