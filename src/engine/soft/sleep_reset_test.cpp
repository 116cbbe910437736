// The soft vCPU's resets: the power-on reset of an ACPI S3 resume (Vcpu::reset_after_sleep),
// and what an INIT resets beyond the registers (XCR0, debug registers).
#include <gtest/gtest.h>

#include "engine/soft/cpu_model.hpp"
#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::CpuModel;
using vessel::soft::testing::SoftTestMachine;

namespace {
// mov ecx,0x1b; rdmsr; or eax,0x400 (EXTD: x2APIC mode); wrmsr; hlt
const std::initializer_list<std::uint8_t> enter_x2apic = {
    0xb9, 0x1b, 0x00, 0x00, 0x00, 0x0f, 0x32, 0x0d, 0x00, 0x04, 0x00, 0x00, 0x0f, 0x30, 0xf4};
constexpr std::uint64_t apic_base_bsp_enabled = 0xfee00900;
constexpr std::uint32_t waking_vector = 0x9a123;
} // namespace

TEST(SoftSleepReset, ResumeStartsTheBspInRealModeAtTheWakingVectorWithPowerOnState) {
    SoftTestMachine machine(SoftTier::Interpreter);
    auto& core = machine.soft_vcpu().core();
    if (soft::host_cannot_run(CpuModel::V3).empty()) core.set_cpu_model(CpuModel::V3);
    machine.load(SoftTestMachine::code_address, enter_x2apic);
    ASSERT_EQ(machine.run().kind, VcpuExit::Kind::Halted);
    ASSERT_NE(core.platform()->apic_base(0), apic_base_bsp_enabled); // x2APIC mode now
    // State the sleeping guest left behind.
    core.xcr0 = 7;
    core.lstar = 0xffffffff81000000;
    core.dr[7] = 0x401;
    core.fpu.xmm[3].q[0] = 0x1234;
    // Firmware's real-mode entry: mov ax, cs; hlt
    machine.load(waking_vector, {0x8c, 0xc8, 0xf4});
    x86::CpuState start;
    start.cs.selector = waking_vector >> 4;
    start.cs.base = waking_vector & ~0xfu;
    start.rip = waking_vector & 0xf;
    ASSERT_TRUE(machine.vcpu->reset_after_sleep(start));
    EXPECT_EQ(core.xcr0, 1u);
    EXPECT_EQ(core.lstar, 0u);
    EXPECT_EQ(core.dr[7], 0x400u);
    EXPECT_EQ(core.dr[6], 0xffff0ff0u);
    EXPECT_EQ(core.fpu.xmm[3].q[0], 0u);
    EXPECT_EQ(core.platform()->apic_base(0), apic_base_bsp_enabled); // xAPIC, enabled, BSP
    const VcpuExit exit = machine.vcpu->run();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    const x86::CpuState after = machine.vcpu->state().value();
    EXPECT_EQ(after.gpr[x86::rax] & 0xffff, waking_vector >> 4); // CS = vector >> 4
    EXPECT_EQ(after.cs.base + after.rip, waking_vector + 3u);    // past mov and hlt
    EXPECT_EQ(after.cr0 & x86::cr0::pe, 0u);
}

TEST(SoftSleepReset, WithoutAStartTheVcpuWaitsForStartup) {
    SoftTestMachine machine(SoftTier::Interpreter);
    machine.load(SoftTestMachine::code_address, {0xf4});
    ASSERT_TRUE(machine.vcpu->reset_after_sleep(std::nullopt));
    // Waiting for SIPI it runs nothing: a kick is the only way out of run().
    machine.vcpu->kick();
    const VcpuExit exit = machine.vcpu->run();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Kicked);
    EXPECT_EQ(machine.vcpu->state().value().rip, 0xfff0u); // the reset vector's IP, untouched
}

TEST(SoftSleepReset, InitResetsXcr0AndDebugRegistersButKeepsSseState) {
    SoftTestMachine machine(SoftTier::Interpreter);
    auto& core = machine.soft_vcpu().core();
    core.xcr0 = 7;
    core.dr[0] = 0x1000;
    core.dr[7] = 0x403;
    core.fpu.xmm[1].q[0] = 0x55aa;
    core.lstar = 0x4000;
    core.init_reset();
    EXPECT_EQ(core.xcr0, 1u); // Intel SDM Vol. 1, 13.3: XCR0 is 1 after RESET and INIT
    EXPECT_EQ(core.dr[0], 0u);
    EXPECT_EQ(core.dr[7], 0x400u);
    EXPECT_EQ(core.fpu.xmm[1].q[0], 0x55aau); // SDM Vol. 3 table 10-1: INIT keeps SSE state
    EXPECT_EQ(core.lstar, 0x4000u);           // and MSRs
}
