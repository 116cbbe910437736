// NullSoftPlatform: the software CPU without interrupt hardware, as the difftest harness runs it.
#include "engine/soft/null_soft_platform.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using namespace vessel::soft;
using vessel::soft::testing::SoftTestMachine;

namespace {

SoftPlatformFactory null_platform() {
    return [](Bus&, Bus&, std::uint32_t) -> Result<std::unique_ptr<SoftPlatform>> {
        return std::unique_ptr<SoftPlatform>(new NullSoftPlatform());
    };
}

} // namespace

TEST(NullSoftPlatform, HasNoLocalApicTimerOrInterrupts) {
    NullSoftPlatform platform;
    EXPECT_EQ(platform.apic_base(0), 0u); // disabled: no physical page is the APIC's
    EXPECT_FALSE(platform.set_apic_base(0, 0xfee00900));
    std::uint64_t value = 0;
    EXPECT_FALSE(platform.x2apic_msr_read(0, 0x802, value));
    EXPECT_FALSE(platform.x2apic_msr_write(0, 0x808, 0));
    EXPECT_FALSE(platform.has_interrupt(0));
    EXPECT_FALSE(platform.take_startup_request(0));
    EXPECT_FALSE(platform.take_nmi(0));
    EXPECT_EQ(platform.tsc(), 0u);
    EXPECT_EQ(platform.tsc_frequency_hz(), SoftPlatform::guest_tsc_frequency_hz);
}

TEST(NullSoftPlatform, HaltWithInterruptsEnabledSleepsUntilKicked) {
    SoftTestMachine machine(SoftTier::Interpreter, 1, null_platform());
    machine.load(SoftTestMachine::code_address, {0xfb, 0xf4}); // sti; hlt
    std::thread kicker([&machine] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        machine.vcpu->kick();
    });
    const VcpuExit exit = machine.run();
    kicker.join();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Kicked) << exit.message;
}

TEST(NullSoftPlatform, HaltWithInterruptsDisabledEndsTheRun) {
    SoftTestMachine machine(SoftTier::Interpreter, 1, null_platform());
    machine.load(SoftTestMachine::code_address, {0xfa, 0xf4}); // cli; hlt
    EXPECT_EQ(machine.run().kind, VcpuExit::Kind::Halted);
}
