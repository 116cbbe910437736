// RFLAGS.TF single-stepping (Intel SDM Vol. 3, 17.3.1.4): a #DB trap with DR6.BS after each
// instruction that began with TF set, starting after the instruction that follows the popf
// setting it.
#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

TEST(SingleStep, TrapsAfterEachInstructionThatBeganWithTf) {
    SoftTestMachine machine;
    machine.install_gdt();
    machine.set_idt_gate(1, 0x2000);
    machine.load(0x2000, {0xff, 0x05, 0x00, 0x30, 0x00, 0x00, 0xcf}); // #DB: inc [0x3000]; iret
    // pushfd; or dword [esp],0x100; popfd (TF on); nop; nop; nop; pushfd;
    // and dword [esp],~0x100; popfd (TF off); hlt
    machine.load(SoftTestMachine::code_address,
                 {0x9c, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x90, 0x90,
                  0x90, 0x9c, 0x81, 0x24, 0x24, 0xff, 0xfe, 0xff, 0xff, 0x9d, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + 0x16);
    // Three nops, pushfd, and, and the popfd that cleared TF.
    EXPECT_EQ(machine.memory.read<std::uint32_t>(0x3000).value(), 6u);
    EXPECT_NE(machine.soft_vcpu().core().dr[6] & (1u << 14), 0u) << "DR6.BS";
}
