// SoftDebugger through SoftVcpu::run: breakpoints, steps and watchpoints on the translation tier's
// vCPU (which the debugger makes interpret one instruction at a time).
#include "engine/soft/soft_debugger.hpp"

#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

// 0x1000 mov eax,1; 0x1005 mov [0x2000],eax; 0x100a mov ebx,[0x3000]; 0x1010 add eax,2; 0x1013 hlt
void load_program(SoftTestMachine& machine) {
    machine.load(SoftTestMachine::code_address,
                 {0xb8, 0x01, 0x00, 0x00, 0x00, 0xa3, 0x00, 0x20, 0x00, 0x00,
                  0x8b, 0x1d, 0x00, 0x30, 0x00, 0x00, 0x83, 0xc0, 0x02, 0xf4});
}

GuestDebug with_breakpoints(std::vector<std::uint64_t> addresses) {
    GuestDebug debug;
    debug.enabled = true;
    debug.software_breakpoints = std::move(addresses);
    return debug;
}

GuestDebug with_point(DebugPointKind kind, std::uint64_t address, std::uint64_t length) {
    GuestDebug debug;
    debug.enabled = true;
    debug.hardware_points.push_back({kind, address, length});
    return debug;
}

} // namespace

TEST(SoftDebugger, BreakpointStopsBeforeTheInstruction) {
    SoftTestMachine machine;
    load_program(machine);
    ASSERT_TRUE(machine.vcpu->set_guest_debug(with_breakpoints({0x1010})));
    VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Debug) << exit.message;
    EXPECT_EQ(exit.debug.kind, DebugEvent::Kind::Breakpoint);
    EXPECT_EQ(exit.debug.address, 0x1010u);
    EXPECT_EQ(machine.state.rip, 0x1010u);
    EXPECT_EQ(machine.reg(x86::rax), 1u);
    // With the breakpoint still set the vCPU stops there again; cleared, it runs on to hlt.
    EXPECT_EQ(machine.run().kind, VcpuExit::Kind::Debug);
    ASSERT_TRUE(machine.vcpu->set_guest_debug(GuestDebug{}));
    EXPECT_EQ(machine.run().kind, VcpuExit::Kind::Halted);
    EXPECT_EQ(machine.reg(x86::rax), 3u);
}

TEST(SoftDebugger, AnyNumberOfBreakpoints) {
    SoftTestMachine machine;
    load_program(machine);
    std::vector<std::uint64_t> addresses;
    for (std::uint64_t i = 0; i < 1000; ++i)
        addresses.push_back(0x100000 + i);
    addresses.push_back(0x1013);
    ASSERT_TRUE(machine.vcpu->set_guest_debug(with_breakpoints(addresses)));
    VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Debug);
    EXPECT_EQ(exit.debug.address, 0x1013u);
}

TEST(SoftDebugger, SingleStepStopsAfterEachInstruction) {
    SoftTestMachine machine;
    load_program(machine);
    GuestDebug step;
    step.enabled = true;
    step.single_step = true;
    ASSERT_TRUE(machine.vcpu->set_guest_debug(step));
    for (std::uint64_t expected : {0x1005u, 0x100au, 0x1010u, 0x1013u}) {
        VcpuExit exit = machine.run();
        ASSERT_EQ(exit.kind, VcpuExit::Kind::Debug);
        EXPECT_EQ(exit.debug.kind, DebugEvent::Kind::Step);
        EXPECT_EQ(machine.state.rip, expected);
    }
}

TEST(SoftDebugger, WriteWatchpointStopsAfterTheStore) {
    SoftTestMachine machine;
    load_program(machine);
    ASSERT_TRUE(machine.vcpu->set_guest_debug(with_point(DebugPointKind::Write, 0x2002, 1)));
    VcpuExit exit = machine.run();
    // The store of 1 to 0x2000 leaves byte 0x2002 at 0: no change, no stop; run to hlt.
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Halted);
    machine.state.rip = SoftTestMachine::code_address;
    ASSERT_TRUE(machine.memory.write<std::uint32_t>(0x2000, 0));
    ASSERT_TRUE(machine.vcpu->set_guest_debug(with_point(DebugPointKind::Write, 0x2000, 4)));
    exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Debug);
    EXPECT_EQ(exit.debug.kind, DebugEvent::Kind::Watchpoint);
    EXPECT_EQ(exit.debug.watch_kind, DebugPointKind::Write);
    EXPECT_EQ(exit.debug.address, 0x2000u);
    EXPECT_EQ(machine.state.rip, 0x100au);
}

TEST(SoftDebugger, ReadAndAccessWatchpointsSeeLoads) {
    for (DebugPointKind kind : {DebugPointKind::Read, DebugPointKind::Access}) {
        SoftTestMachine machine;
        load_program(machine);
        ASSERT_TRUE(machine.vcpu->set_guest_debug(with_point(kind, 0x3003, 1)));
        VcpuExit exit = machine.run();
        ASSERT_EQ(exit.kind, VcpuExit::Kind::Debug);
        EXPECT_EQ(exit.debug.kind, DebugEvent::Kind::Watchpoint);
        EXPECT_EQ(exit.debug.watch_kind, kind);
        EXPECT_EQ(machine.state.rip, 0x1010u);
    }
}

TEST(SoftDebugger, AccessWatchpointSeesStoresOfTheSameValue) {
    SoftTestMachine machine;
    load_program(machine);
    ASSERT_TRUE(machine.memory.write<std::uint32_t>(0x2000, 1)); // the store changes nothing
    ASSERT_TRUE(machine.vcpu->set_guest_debug(with_point(DebugPointKind::Access, 0x2000, 4)));
    VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Debug);
    EXPECT_EQ(machine.state.rip, 0x100au);
}

TEST(SoftDebugger, HardwareExecutePoint) {
    SoftTestMachine machine;
    load_program(machine);
    ASSERT_TRUE(machine.vcpu->set_guest_debug(with_point(DebugPointKind::Execute, 0x100a, 1)));
    VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Debug);
    EXPECT_EQ(exit.debug.kind, DebugEvent::Kind::Breakpoint);
    EXPECT_EQ(machine.state.rip, 0x100au);
}

TEST(SoftDebugger, VectorRegistersReadAndWriteTheYmmStateButNotXcr0) {
    SoftTestMachine machine;
    soft::CpuCore& core = machine.soft_vcpu().core();
    core.fpu.xmm[3].q[1] = 0x1234;
    core.fpu.ymm_upper[3].q[0] = 0x5678;
    core.xcr0 = 7;
    auto registers = machine.vcpu->vector_registers();
    ASSERT_TRUE(registers) << registers.error().message;
    EXPECT_EQ(registers->xmm[3][1], 0x1234u);
    EXPECT_EQ(registers->ymm_upper[3][0], 0x5678u);
    EXPECT_EQ(registers->xcr0, 7u);
    EXPECT_EQ(registers->mxcsr, core.fpu.mxcsr);

    registers->ymm_upper[15][1] = 0xfeed;
    registers->mxcsr = 0x1f00;
    ASSERT_TRUE(machine.vcpu->set_vector_registers(*registers));
    EXPECT_EQ(core.fpu.ymm_upper[15].q[1], 0xfeedu);
    EXPECT_EQ(core.fpu.mxcsr, 0x1f00u);

    VectorRegisters bad = *registers;
    bad.mxcsr = 0x10000;
    auto refused = machine.vcpu->set_vector_registers(bad);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("MXCSR"), std::string::npos);
    bad = *registers;
    bad.xcr0 = 3;
    refused = machine.vcpu->set_vector_registers(bad);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("XCR0"), std::string::npos);
    EXPECT_EQ(core.xcr0, 7u);
}
