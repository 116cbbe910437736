// GuestSignal: boot timer and exit-status ports.
#include "devices/pseudo/guest_signal.hpp"

#include <gtest/gtest.h>

#include "devices/legacy/test_support.hpp"

using namespace vessel;
using namespace vessel::testing;

TEST(GuestSignal, BootValueRecordsTimeWithoutExiting) {
    RecordingExitSink exits;
    GuestSignal device(exits);
    EXPECT_LT(device.boot_milliseconds(), 0);
    write8(device, 0, 7); // not the boot value: ignored
    EXPECT_LT(device.boot_milliseconds(), 0);
    write8(device, 0, GuestSignal::boot_complete_value);
    EXPECT_GE(device.boot_milliseconds(), 0);
    EXPECT_TRUE(exits.requests.empty());
}

TEST(GuestSignal, StatusPortEndsVmWithThatStatus) {
    RecordingExitSink exits;
    GuestSignal device(exits);
    write8(device, 1, 42);
    ASSERT_EQ(exits.requests.size(), 1u);
    EXPECT_EQ(exits.requests[0].status, 42);
}
