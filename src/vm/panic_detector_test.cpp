// PanicDetector: finds the panic line across chunk boundaries, reports once.
#include "vm/panic_detector.hpp"

#include <gtest/gtest.h>

#include <string>

#include "devices/legacy/test_support.hpp"

using namespace vessel;

namespace {
void feed(PanicDetector& detector, std::string_view text) {
    detector.feed({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}
} // namespace

TEST(PanicDetector, ReportsThePanicLine) {
    vessel::testing::RecordingExitSink exits;
    PanicDetector detector(exits);
    feed(detector, "[    1.0] sysrq: Trigger a crash\r\n[    1.1] Kernel pan");
    EXPECT_TRUE(exits.requests.empty());
    feed(detector, "ic - not syncing: sysrq triggered crash\r\n");
    ASSERT_EQ(exits.requests.size(), 1u);
    EXPECT_EQ(exits.requests[0].kind, ExitRequest::Kind::Panic);
    EXPECT_EQ(exits.requests[0].status, exit_status::guest_panic);
    EXPECT_EQ(exits.requests[0].message,
              "guest kernel panic: Kernel panic - not syncing: sysrq triggered crash");
    feed(detector, "Kernel panic - not syncing: again\n");
    EXPECT_EQ(exits.requests.size(), 1u);
}

TEST(PanicDetector, OrdinaryOutputIsIgnored) {
    vessel::testing::RecordingExitSink exits;
    PanicDetector detector(exits);
    feed(detector, "Kernel command line: panic=1\nsome panic talk\n");
    EXPECT_TRUE(exits.requests.empty());
}
