// IA32_APIC_BASE on the software CPU: EXTD (x2APIC mode) raises #GP unless CPUID offers x2APIC
// (it set the bit before), the v2 and later models offer it, in x2APIC mode the MSRs answer
// and the xAPIC page is no longer the APIC, and CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN.
#include <gtest/gtest.h>

#include "engine/soft/cpu_model.hpp"
#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::CpuModel;
using vessel::soft::testing::SoftTestMachine;

namespace {

// mov ecx,0x1b; rdmsr; or eax,0x400 (EXTD); wrmsr; mov ecx,0x802 (x2APIC ID); rdmsr;
// mov esi,eax; mov edi,[0xfee00020] (the xAPIC ID register's address); mov eax,1; cpuid;
// mov ebp,ecx; hlt
const std::initializer_list<std::uint8_t> enter_x2apic = {
    0xb9, 0x1b, 0x00, 0x00, 0x00, 0x0f, 0x32, 0x0d, 0x00, 0x04, 0x00, 0x00, 0x0f,
    0x30, 0xb9, 0x02, 0x08, 0x00, 0x00, 0x0f, 0x32, 0x89, 0xc6, 0x8b, 0x3d, 0x20,
    0x00, 0xe0, 0xfe, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0xcd, 0xf4};
constexpr std::uint64_t wrmsr_offset = 12;
constexpr std::uint32_t cpuid1_ecx_x2apic = 1u << 21;

} // namespace

TEST(ApicBaseMsr, ExtdWithoutX2apicInCpuidRaisesGp) {
    SoftTestMachine machine;
    machine.soft_vcpu().core().set_cpu_model(CpuModel::Baseline);
    machine.load(SoftTestMachine::code_address, enter_x2apic);
    const VcpuExit exit = machine.run();
    // #GP without an IDT: a triple fault at the wrmsr.
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Shutdown) << exit.message;
    EXPECT_EQ(machine.state.rip, SoftTestMachine::code_address + wrmsr_offset);
}

TEST(ApicBaseMsr, V2ModelsOfferX2apicAndItsMsrsReplaceTheMmioPage) {
    for (CpuModel model : {CpuModel::V2, CpuModel::V3, CpuModel::Max}) {
        SCOPED_TRACE(soft::cpu_model_name(model));
        if (!soft::host_cannot_run(model).empty()) continue;
        SoftTestMachine machine(SoftTier::Translator, 2);
        machine.soft_vcpu().core().set_cpu_model(model);
        machine.load(SoftTestMachine::code_address, enter_x2apic);
        const VcpuExit exit = machine.run();
        ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
        EXPECT_NE(machine.reg(x86::rbp) & cpuid1_ecx_x2apic, 0u) << "CPUID.1:ECX.x2APIC";
        EXPECT_EQ(machine.reg(x86::rsi), 0u);           // x2APIC ID of vCPU 0
        EXPECT_EQ(machine.reg(x86::rdi), 0xffff'ffffu); // not the APIC: nothing backs the page
    }
}

TEST(ApicBaseMsr, CpuidApicFlagFollowsTheEnableBit) {
    SoftTestMachine machine;
    // mov eax,1; cpuid; mov esi,edx; mov ecx,0x1b; rdmsr; and eax,~0x800 (EN); wrmsr;
    // mov eax,1; cpuid; mov edi,edx; mov ecx,0x1b; rdmsr; or eax,0x800; wrmsr; mov eax,1;
    // cpuid; mov ebp,edx; hlt
    machine.load(SoftTestMachine::code_address,
                 {0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0xd6, 0xb9, 0x1b, 0x00,
                  0x00, 0x00, 0x0f, 0x32, 0x25, 0xff, 0xf7, 0xff, 0xff, 0x0f, 0x30, 0xb8,
                  0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0xd7, 0xb9, 0x1b, 0x00, 0x00,
                  0x00, 0x0f, 0x32, 0x0d, 0x00, 0x08, 0x00, 0x00, 0x0f, 0x30, 0xb8, 0x01,
                  0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0xd5, 0xf4});
    const VcpuExit exit = machine.run();
    ASSERT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    constexpr std::uint32_t apic_flag = 1u << 9;
    EXPECT_EQ(machine.reg(x86::rsi) & apic_flag, apic_flag); // enabled at reset
    EXPECT_EQ(machine.reg(x86::rdi) & apic_flag, 0u);        // EN = 0
    EXPECT_EQ(machine.reg(x86::rbp) & apic_flag, apic_flag); // enabled again
}
