// The S3 path of the legacy devices: PM1 sleep and wake bits, the SCI, and the CMOS RTC alarm.
#include <gtest/gtest.h>

#include "devices/legacy/acpi_power.hpp"
#include "devices/legacy/cmos_rtc.hpp"
#include "devices/legacy/test_support.hpp"

using namespace vessel;
using namespace vessel::testing;

namespace {
constexpr std::uint16_t s3_request = (AcpiPower::suspend_to_ram_type << 10) | (1u << 13);

std::uint16_t read16(BusDevice& device, std::uint64_t offset) {
    return static_cast<std::uint16_t>(read8(device, offset) | (read8(device, offset + 1) << 8));
}
} // namespace

TEST(AcpiSleep, S3RequestCallsTheSleepHandlerOnceAndClearsSlpEn) {
    RecordingExitSink exits;
    AcpiPower device(exits);
    int sleeps = 0;
    device.set_sleep_handler([&] { ++sleeps; });
    // ACPICA writes SLP_TYP first, then SLP_TYP | SLP_EN (ACPI 6.5, 7.4.2.x / 16.1.3).
    write16(device, 4, (AcpiPower::suspend_to_ram_type << 10) | 1);
    EXPECT_EQ(sleeps, 0);
    write16(device, 4, s3_request | 1);
    EXPECT_EQ(sleeps, 1);
    EXPECT_TRUE(exits.requests.empty());
    EXPECT_EQ(read16(device, 4) & AcpiPower::sleep_enable, 0); // SLP_EN reads 0
    EXPECT_EQ((read16(device, 4) >> 10) & 7, AcpiPower::suspend_to_ram_type);
}

TEST(AcpiSleep, S3WithoutHandlerIsIgnored) {
    RecordingExitSink exits;
    AcpiPower device(exits);
    write16(device, 4, s3_request);
    EXPECT_TRUE(exits.requests.empty());
}

TEST(AcpiSleep, WakeSetsWakStatusWhichIsWriteOneToClear) {
    RecordingExitSink exits;
    AcpiPower device(exits);
    device.set_sleep_handler([] {});
    write16(device, 0, AcpiPower::wake_status); // ACPICA clears WAK_STS before sleeping
    write16(device, 4, s3_request);
    EXPECT_EQ(device.status() & AcpiPower::wake_status, 0);
    device.woke();
    EXPECT_EQ(read16(device, 0) & AcpiPower::wake_status, AcpiPower::wake_status);
    write16(device, 0, AcpiPower::wake_status);
    EXPECT_EQ(read16(device, 0), 0);
}

TEST(AcpiSleep, RtcAlarmSetsRtcStatusAndWakesOnlyWithRtcEnable) {
    RecordingExitSink exits;
    RecordingInterruptSink irqs;
    AcpiPower device(exits);
    device.set_sci(IrqLine(&irqs, 9));
    EXPECT_FALSE(device.rtc_alarm()); // RTC_EN clear: no wake, and no SCI
    EXPECT_EQ(read16(device, 0) & AcpiPower::rtc_event, AcpiPower::rtc_event);
    EXPECT_FALSE(irqs.levels[9]);
    write16(device, 0, AcpiPower::rtc_event);
    EXPECT_EQ(read16(device, 0), 0);
    write16(device, 2, AcpiPower::rtc_event); // RTC_EN
    EXPECT_TRUE(device.rtc_alarm());
    EXPECT_TRUE(irqs.levels[9]); // status & enable raise the SCI (level) ...
    write16(device, 0, AcpiPower::rtc_event);
    EXPECT_FALSE(irqs.levels[9]); // ... until the status is cleared
}

TEST(AcpiSleep, SciNeedsSciEnable) {
    RecordingExitSink exits;
    RecordingInterruptSink irqs;
    AcpiPower device(exits);
    device.set_sci(IrqLine(&irqs, 9));
    write16(device, 4, 0); // SCI_EN clear: events go nowhere
    write16(device, 2, AcpiPower::rtc_event);
    device.rtc_alarm();
    EXPECT_FALSE(irqs.levels[9]);
    write16(device, 4, AcpiPower::sci_enable);
    EXPECT_TRUE(irqs.levels[9]);
}

namespace {
struct AlarmRig {
    std::time_t host = 1795355156; // 2026-11-22 13:45:56 UTC
    RecordingInterruptSink irqs;
    CmosRtc rtc{256 << 20, [this] { return host; }};
    int alarms = 0;
    AlarmRig() {
        rtc.set_irq(IrqLine(&irqs, CmosRtc::irq));
        rtc.set_alarm_handler([this] { ++alarms; });
    }
    void set(std::uint8_t index, std::uint8_t value) {
        write8(rtc, 0, index);
        write8(rtc, 1, value);
    }
    std::uint8_t get(std::uint8_t index) {
        write8(rtc, 0, index);
        return read8(rtc, 1);
    }
};
} // namespace

TEST(CmosRtcAlarm, FiresAtTheAlarmSecondWithAieAndRaisesIrq8UntilRegisterCIsRead) {
    AlarmRig rig;
    rig.set(0x05, 0x13); // hours alarm 13 (BCD)
    rig.set(0x03, 0x46); // minutes alarm 46
    rig.set(0x01, 0x00); // seconds alarm 00: 4 s from now
    rig.set(0x0b, 0x02 | CmosRtc::alarm_interrupt_enable);
    rig.host += 3;
    rig.rtc.update();
    EXPECT_EQ(rig.alarms, 0);
    EXPECT_FALSE(rig.irqs.levels[8]);
    rig.host += 2; // 13:46:01: update() looks at 13:46:00 too
    rig.rtc.update();
    EXPECT_EQ(rig.alarms, 1);
    EXPECT_TRUE(rig.irqs.levels[8]);
    const std::uint8_t flags = rig.get(0x0c);
    EXPECT_EQ(flags, CmosRtc::alarm_flag | CmosRtc::interrupt_request_flag);
    EXPECT_FALSE(rig.irqs.levels[8]); // reading C acknowledges
    EXPECT_EQ(rig.get(0x0c), 0);
    rig.rtc.update(); // the same second again: no second alarm
    EXPECT_EQ(rig.alarms, 1);
}

TEST(CmosRtcAlarm, WithoutAieOnlyTheFlagIsSet) {
    AlarmRig rig;
    rig.set(0x01, 0xc0); // any second, any minute, any hour
    rig.set(0x03, 0xff);
    rig.set(0x05, 0xff);
    rig.host += 1;
    rig.rtc.update();
    EXPECT_EQ(rig.alarms, 0);
    EXPECT_FALSE(rig.irqs.levels[8]);
    EXPECT_EQ(rig.get(0x0c), CmosRtc::alarm_flag); // AF without IRQF
    // Enabling AIE while AF is pending interrupts at once (IRQF follows flags & enables).
    rig.host += 1;
    rig.rtc.update();
    rig.set(0x0b, 0x02 | CmosRtc::alarm_interrupt_enable);
    EXPECT_TRUE(rig.irqs.levels[8]);
}

TEST(CmosRtcAlarm, AlarmRegistersAreStoredNotTakenAsTime) {
    AlarmRig rig;
    rig.set(0x01, 0x30);
    rig.set(0x03, 0x31);
    rig.set(0x05, 0x02);
    EXPECT_EQ(rig.get(0x01), 0x30);
    EXPECT_EQ(rig.get(0x03), 0x31);
    EXPECT_EQ(rig.get(0x05), 0x02);
    EXPECT_EQ(rig.get(0x00), 0x56); // the clock did not move
    EXPECT_EQ(rig.get(0x04), 0x13);
}

TEST(CmosRtcAlarm, ReadingRegisterCAtTheAlarmSecondSeesIt) {
    AlarmRig rig;
    rig.set(0x05, 0x13);
    rig.set(0x03, 0x45);
    rig.set(0x01, 0x57);
    rig.set(0x0b, 0x02 | CmosRtc::alarm_interrupt_enable);
    rig.host += 1; // no update() call: the guest's read finds the alarm
    EXPECT_EQ(rig.get(0x0c), CmosRtc::alarm_flag | CmosRtc::interrupt_request_flag);
    EXPECT_EQ(rig.alarms, 1);
}

TEST(CmosRtcAlarm, ALongGapLooksBackOneDayAtMost) {
    AlarmRig rig;
    rig.set(0x01, 0x56); // 13:45:56: exactly now, so the next match is a day away
    rig.set(0x03, 0x45);
    rig.set(0x05, 0x13);
    rig.set(0x0b, 0x02 | CmosRtc::alarm_interrupt_enable);
    rig.host += 10 * 24 * 60 * 60; // ten days without a look: one alarm, not ten
    rig.rtc.update();
    EXPECT_EQ(rig.alarms, 1);
}
