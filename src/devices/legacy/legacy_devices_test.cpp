// DebugExit, I8042 and CmosRtc through their bus interface.
#include <gtest/gtest.h>

#include "devices/legacy/cmos_rtc.hpp"
#include "devices/legacy/debug_exit.hpp"
#include "devices/legacy/i8042.hpp"
#include "devices/legacy/test_support.hpp"

using namespace vessel;
using namespace vessel::testing;

TEST(DebugExit, StatusFollowsQemuConvention) {
    RecordingExitSink exits;
    DebugExit device(exits);
    std::uint8_t value[4] = {0x10, 0, 0, 0};
    device.write(0, value);
    ASSERT_EQ(exits.requests.size(), 1u);
    EXPECT_EQ(exits.requests[0].kind, ExitRequest::Kind::DebugExit);
    EXPECT_EQ(exits.requests[0].status, 0x21);
    write8(device, 0, 0);
    EXPECT_EQ(exits.requests[1].status, 1);
    EXPECT_EQ(read8(device, 0), 0xff);
}

TEST(I8042, ResetPulseEndsVmWithZero) {
    RecordingInterruptSink irqs;
    RecordingExitSink exits;
    I8042 device(IrqLine(&irqs, 1), exits);
    write8(device, 4, 0xfe);
    ASSERT_EQ(exits.requests.size(), 1u);
    EXPECT_EQ(exits.requests[0].kind, ExitRequest::Kind::Reset);
    EXPECT_EQ(exits.requests[0].status, 0);
}

TEST(I8042, SelfTestAndConfigByte) {
    RecordingInterruptSink irqs;
    RecordingExitSink exits;
    I8042 device(IrqLine(&irqs, 1), exits);
    EXPECT_EQ(read8(device, 4) & 0x01, 0);
    write8(device, 4, 0xaa);
    EXPECT_EQ(read8(device, 4) & 0x01, 1);
    EXPECT_EQ(read8(device, 0), 0x55);
    write8(device, 4, 0x60);
    write8(device, 0, 0x47);
    write8(device, 4, 0x20);
    EXPECT_EQ(read8(device, 0), 0x47);
    EXPECT_TRUE(exits.requests.empty());
}

TEST(I8042, KeyboardResetAcksAndRaisesIrq) {
    RecordingInterruptSink irqs;
    RecordingExitSink exits;
    I8042 device(IrqLine(&irqs, 1), exits);
    write8(device, 0, 0xff);
    EXPECT_TRUE(irqs.levels[1]);
    EXPECT_EQ(read8(device, 0), 0xfa);
    EXPECT_EQ(read8(device, 0), 0xaa);
    EXPECT_FALSE(irqs.levels[1]);
}

TEST(CmosRtc, ShowsClockInBcd) {
    // 2026-11-22 13:45:56 UTC
    CmosRtc rtc(256 << 20, [] { return std::time_t{1795355156}; });
    auto reg = [&](std::uint8_t index) {
        write8(rtc, 0, index);
        return read8(rtc, 1);
    };
    EXPECT_EQ(reg(0x00), 0x56);
    EXPECT_EQ(reg(0x02), 0x45);
    EXPECT_EQ(reg(0x04), 0x13);
    EXPECT_EQ(reg(0x07), 0x22);
    EXPECT_EQ(reg(0x08), 0x11);
    EXPECT_EQ(reg(0x09), 0x26);
    EXPECT_EQ(reg(0x32), 0x20);
    EXPECT_EQ(reg(0x0d), 0x80);
    EXPECT_EQ(reg(0x0a) & 0x80, 0);
}

TEST(CmosRtc, BinaryModeAndNmiBitIgnored) {
    CmosRtc rtc(256 << 20, [] { return std::time_t{1795355156}; });
    write8(rtc, 0, 0x8b); // NMI mask bit set, index 0x0b
    write8(rtc, 1, 0x06); // binary, 24h
    write8(rtc, 0, 0x00);
    EXPECT_EQ(read8(rtc, 1), 56);
}

TEST(CmosRtc, GuestSetTimeIsKeptAsOffset) {
    std::time_t host = 1795355156;
    CmosRtc rtc(256 << 20, [&] { return host; });
    write8(rtc, 0, 0x04);
    write8(rtc, 1, 0x10); // hours = 10 (BCD)
    host += 60;
    write8(rtc, 0, 0x04);
    EXPECT_EQ(read8(rtc, 1), 0x10);
    write8(rtc, 0, 0x02);
    EXPECT_EQ(read8(rtc, 1), 0x46);
}

TEST(CmosRtc, ReportsExtendedMemory) {
    CmosRtc rtc(64 << 20, [] { return std::time_t{0}; });
    write8(rtc, 0, 0x34);
    std::uint16_t above_16m = read8(rtc, 1);
    write8(rtc, 0, 0x35);
    above_16m |= read8(rtc, 1) << 8;
    EXPECT_EQ(above_16m, (48u << 20) >> 16);
}

#include "devices/legacy/acpi_power.hpp"

TEST(AcpiPower, SoftOffEndsVmAndOtherSleepStatesDoNot) {
    RecordingExitSink exits;
    AcpiPower device(exits);
    EXPECT_EQ(read8(device, 4) & 1, 1);        // SCI_EN: already in ACPI mode
    write16(device, 4, (3 << 10) | (1 << 13)); // S3 request: not supported, ignored
    EXPECT_TRUE(exits.requests.empty());
    write16(device, 4, (5 << 10) | (1 << 13));
    ASSERT_EQ(exits.requests.size(), 1u);
    EXPECT_EQ(exits.requests[0].kind, ExitRequest::Kind::PowerOff);
    EXPECT_EQ(exits.requests[0].status, 0);
}

TEST(AcpiPower, StatusBitsAreWriteOneToClear) {
    RecordingExitSink exits;
    AcpiPower device(exits);
    write8(device, 2, 0x21); // enable register keeps what is written
    EXPECT_EQ(read8(device, 2), 0x21);
    write8(device, 0, 0xff);
    EXPECT_EQ(read8(device, 0), 0);
}

TEST(ResetControl, ResetBitEndsVm) {
    RecordingExitSink exits;
    ResetControl device(exits);
    write8(device, 0, 0x02); // no reset bit
    EXPECT_TRUE(exits.requests.empty());
    write8(device, 0, 0x06);
    ASSERT_EQ(exits.requests.size(), 1u);
    EXPECT_EQ(exits.requests[0].kind, ExitRequest::Kind::Reset);
}

TEST(I8042, EveryQueuedByteGetsItsOwnEdge) {
    RecordingInterruptSink irqs;
    RecordingExitSink exits;
    I8042 device(IrqLine(&irqs, 1), exits);
    device.send_ctrl_alt_del();
    int edges_before = irqs.raised[1];
    EXPECT_EQ(edges_before, 1);
    for (int i = 0; i < 8; ++i)
        read8(device, 0);
    EXPECT_EQ(irqs.raised[1], edges_before + 7); // a new rising edge for bytes 2..8
    EXPECT_FALSE(irqs.levels[1]);
}
