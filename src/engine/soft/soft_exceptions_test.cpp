// Soft engine exceptions: IDT delivery with frames, #PF with CR2/error code, triple fault.
#include <gtest/gtest.h>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint64_t handler_address = 0x2000;

} // namespace

TEST(SoftExceptions, DivideErrorGoesThroughTheIdt) {
    SoftTestMachine machine;
    machine.install_gdt();
    machine.set_idt_gate(0, handler_address);
    // xor ecx,ecx; mov eax,10; div ecx; hlt
    machine.load(SoftTestMachine::code_address,
                 {0x31, 0xc9, 0xb8, 0x0a, 0x00, 0x00, 0x00, 0xf7, 0xf1, 0xf4});
    // handler: mov ebx,[esp]; mov ecx,0xdead; hlt
    machine.load(handler_address, {0x8b, 0x1c, 0x24, 0xb9, 0xad, 0xde, 0x00, 0x00, 0xf4});
    machine.state.rflags |= x86::rflags::if_;
    machine.state.gpr[x86::rcx] = 1;
    // The handler runs with IF cleared by the interrupt gate, so its hlt ends the run.
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rcx), 0xdeadu);
    EXPECT_EQ(machine.reg(x86::rbx), SoftTestMachine::code_address + 7); // faulting div
    EXPECT_EQ(machine.reg(x86::rsp), SoftTestMachine::stack_top - 12);   // eip, cs, eflags
    EXPECT_FALSE(machine.state.rflags & x86::rflags::if_);
    std::uint32_t pushed_flags =
        machine.memory.read<std::uint32_t>(SoftTestMachine::stack_top - 4).value();
    EXPECT_TRUE(pushed_flags & x86::rflags::if_);
    EXPECT_EQ(machine.memory.read<std::uint32_t>(SoftTestMachine::stack_top - 8).value(), 0x08u);
}

TEST(SoftExceptions, PageFaultReportsAddressAndErrorCode) {
    SoftTestMachine machine;
    machine.install_gdt();
    machine.set_idt_gate(14, handler_address);
    // 32-bit paging: identity map of the first 4 MiB except the page at 0x300000.
    constexpr std::uint64_t directory = 0x10000, table = 0x11000;
    ASSERT_TRUE(machine.memory.write<std::uint32_t>(directory, table | 0x3));
    for (std::uint32_t page = 0; page < 1024; ++page)
        if (page != 0x300) {
            ASSERT_TRUE(machine.memory.write<std::uint32_t>(table + 4 * page, (page << 12) | 0x3));
        }
    machine.state.cr3 = directory;
    machine.state.cr0 |= x86::cr0::pg;
    // mov dword [0x200010],0x11; mov dword [0x300010],1; hlt
    machine.load(SoftTestMachine::code_address,
                 {0xc7, 0x05, 0x10, 0x00, 0x20, 0x00, 0x11, 0x00, 0x00, 0x00, 0xc7,
                  0x05, 0x10, 0x00, 0x30, 0x00, 0x01, 0x00, 0x00, 0x00, 0xf4});
    // handler: pop eax (error code); mov ebx,cr2; hlt
    machine.load(handler_address, {0x58, 0x0f, 0x20, 0xd3, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rax), 0x2u); // write to a not-present page, supervisor
    EXPECT_EQ(machine.reg(x86::rbx), 0x300010u);
    EXPECT_EQ(machine.state.cr2, 0x300010u);
    EXPECT_EQ(machine.memory.read<std::uint32_t>(0x200010).value(), 0x11u);
    // The successful store set accessed and dirty in its PTE and accessed in the PDE.
    EXPECT_EQ(machine.memory.read<std::uint32_t>(table + 4 * 0x200).value() & 0x60, 0x60u);
    EXPECT_TRUE(machine.memory.read<std::uint32_t>(directory).value() & 0x20);
    // The faulting instruction's address was pushed.
    EXPECT_EQ(machine.memory.read<std::uint32_t>(SoftTestMachine::stack_top - 12).value(),
              SoftTestMachine::code_address + 10);
}

TEST(SoftExceptions, ReadOnlyUserPageFaultsWithProtectionBits) {
    SoftTestMachine machine;
    machine.install_gdt();
    machine.set_idt_gate(14, handler_address);
    constexpr std::uint64_t directory = 0x10000, table = 0x11000;
    ASSERT_TRUE(machine.memory.write<std::uint32_t>(directory, table | 0x7));
    for (std::uint32_t page = 0; page < 1024; ++page)
        ASSERT_TRUE(machine.memory.write<std::uint32_t>(table + 4 * page, (page << 12) | 0x3));
    ASSERT_TRUE(
        machine.memory.write<std::uint32_t>(table + 4 * 0x300, 0x300000 | 0x1)); // read-only
    machine.state.cr3 = directory;
    machine.state.cr0 |= x86::cr0::pg | x86::cr0::wp;
    machine.load(SoftTestMachine::code_address,
                 {0xc7, 0x05, 0x10, 0x00, 0x20, 0x00, 0x11, 0x00, 0x00, 0x00, 0xc7,
                  0x05, 0x10, 0x00, 0x30, 0x00, 0x01, 0x00, 0x00, 0x00, 0xf4});
    machine.load(handler_address, {0x58, 0x0f, 0x20, 0xd3, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_EQ(machine.reg(x86::rax), 0x3u); // present | write (CR0.WP makes it fault at CPL 0)
    EXPECT_EQ(machine.reg(x86::rbx), 0x300010u);
}

TEST(SoftExceptions, TripleFaultShutsDown) {
    SoftTestMachine machine;
    machine.install_gdt();
    machine.state.idt = {SoftTestMachine::idt_address, 0};           // no usable gates at all
    machine.load(SoftTestMachine::code_address, {0x90, 0x0f, 0x0b}); // nop; ud2
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Shutdown) << exit.message;
    EXPECT_EQ(exit.rip, SoftTestMachine::code_address + 1);
}

TEST(SoftExceptions, LongModeSwitchAndSixtyFourBitCode) {
    SoftTestMachine machine;
    machine.install_gdt();
    // PML4 -> PDPT -> PD with 2 MiB identity pages for the first 8 MiB.
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(0x20000, 0x21000 | 0x3));
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(0x21000, 0x22000 | 0x3));
    for (std::uint64_t i = 0; i < 4; ++i)
        ASSERT_TRUE(machine.memory.write<std::uint64_t>(0x22000 + 8 * i, (i << 21) | 0x83));
    // cr4.pae, cr3, efer.lme, cr0.pg, then ljmp 0x18:0x3000
    machine.load(SoftTestMachine::code_address,
                 {0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0, 0xb8, 0x00, 0x00, 0x02,
                  0x00, 0x0f, 0x22, 0xd8, 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00,
                  0x01, 0x00, 0x00, 0x0f, 0x30, 0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80,
                  0x0f, 0x22, 0xc0, 0xea, 0x00, 0x30, 0x00, 0x00, 0x18, 0x00});
    // mov rax,0x123456789abcdef0; mov rbx,rax; shr rbx,32; push rax; pop rcx; lea rdx,[rip+0x10];
    // hlt
    machine.load(0x3000, {0x48, 0xb8, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34,
                          0x12, 0x48, 0x89, 0xc3, 0x48, 0xc1, 0xeb, 0x20, 0x50,
                          0x59, 0x48, 0x8d, 0x15, 0x10, 0x00, 0x00, 0x00, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    EXPECT_TRUE(machine.state.efer & x86::efer::lma);
    EXPECT_TRUE(machine.state.cs.long_mode);
    EXPECT_EQ(machine.reg(x86::rax), 0x123456789abcdef0u);
    EXPECT_EQ(machine.reg(x86::rbx), 0x12345678u);
    EXPECT_EQ(machine.reg(x86::rcx), 0x123456789abcdef0u);
    EXPECT_EQ(machine.reg(x86::rdx), 0x3000u + 26 + 0x10);
    EXPECT_EQ(machine.state.rip, 0x3000u + 27);
}

TEST(SoftExceptions, FaultFramesCarryRfAndIretDropsIt) {
    SoftTestMachine machine;
    machine.install_gdt();
    machine.set_idt_gate(6, 0x2000);
    // #UD handler: eax = pushed EFLAGS; skip the ud2; iret.
    machine.load(0x2000, {0x8b, 0x44, 0x24, 0x08, 0x83, 0x04, 0x24, 0x02, 0xcf});
    // ud2; pushfd; pop ebx; hlt
    machine.load(SoftTestMachine::code_address, {0x0f, 0x0b, 0x9c, 0x5b, 0xf4});
    ASSERT_TRUE(machine.vcpu->set_state(machine.state));
    ASSERT_EQ(machine.vcpu->run().kind, VcpuExit::Kind::Halted);
    const x86::CpuState state = machine.vcpu->state().value();
    EXPECT_EQ(state.rip, SoftTestMachine::code_address + 5);
    EXPECT_NE(state.gpr[x86::rax] & x86::rflags::rf, 0u); // the fault frame
    EXPECT_EQ(state.gpr[x86::rbx] & x86::rflags::rf, 0u); // after iret
    EXPECT_EQ(state.rflags & x86::rflags::rf, 0u);
}
