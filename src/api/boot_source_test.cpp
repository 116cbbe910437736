// Tests for BootSource: the command line handed to the guest.
#include "api/boot_source.hpp"

#include <gtest/gtest.h>

namespace vessel::api {
namespace {

TEST(BootSource, GuestCommandLineDropsPciOffOnly) {
    BootSource source;
    source.boot_args = "console=ttyS0 reboot=k panic=1 pci=off  nomodule";
    EXPECT_EQ(source.guest_command_line(), "console=ttyS0 reboot=k panic=1 nomodule");
    source.boot_args = "pci=offset=1 console=ttyS0";
    EXPECT_EQ(source.guest_command_line(), "pci=offset=1 console=ttyS0");
    source.boot_args.reset();
    EXPECT_EQ(source.guest_command_line(), "");
}

} // namespace
} // namespace vessel::api
