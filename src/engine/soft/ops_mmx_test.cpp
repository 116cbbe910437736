// MMX (ops_mmx.cpp): mm registers alias the x87 significands, MMX instructions leave TOP = 0 and
// every tag valid and emms empties them, #UD with CR0.EM, #NM with CR0.TS, SSSE3 mm forms follow
// the CPU model, and a few instructions against values worked out from the SDM (tools/difftest's
// mmx_vector family compares them all with the host). A guest saw #UD on every MMX instruction.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <functional>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;
using namespace Xbyak::util;

namespace {

constexpr std::uint64_t fault_handler = 0x3000;
constexpr std::uint64_t save_area = 0x7000;

/// 64-bit CPL 0; #UD and #NM go to a handler that puts the vector in r8 and halts.
struct MmxMachine : SoftTestMachine {
    explicit MmxMachine(soft::CpuModel model = soft::CpuModel::Max) {
        install_gdt();
        enter_long_mode();
        soft_vcpu().core().set_cpu_model(model);
        set_idt_gate(6, fault_handler, true, 0x18);
        set_idt_gate(7, fault_handler + 0x10, true, 0x18);
        assemble(fault_handler, [](Xbyak::CodeGenerator& c) {
            c.mov(r8d, 6);
            c.hlt();
        });
        assemble(fault_handler + 0x10, [](Xbyak::CodeGenerator& c) {
            c.mov(r8d, 7);
            c.hlt();
        });
    }
    void assemble(std::uint64_t address, const std::function<void(Xbyak::CodeGenerator&)>& body) {
        Xbyak::CodeGenerator code(1 << 12);
        body(code);
        load(address, std::vector<std::uint8_t>(code.getCode(), code.getCode() + code.getSize()));
    }
    VcpuExit run_program(const std::function<void(Xbyak::CodeGenerator&)>& body) {
        state.gpr[8] = 0;
        assemble(code_address, body);
        const VcpuExit exit = run();
        EXPECT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
        return exit;
    }
    std::uint64_t read64(std::uint64_t address) {
        return memory.read<std::uint64_t>(address).value();
    }
    std::uint16_t read16(std::uint64_t address) {
        return memory.read<std::uint16_t>(address).value();
    }
};

/// fxsave [address] (absolute disp32): Xbyak has no fxsave.
void fxsave(Xbyak::CodeGenerator& c, std::uint32_t address) {
    for (const std::uint8_t byte : {0x0f, 0xae, 0x04, 0x25})
        c.db(byte);
    c.dd(address);
}

} // namespace

TEST(OpsMmx, RegistersAreTheX87SignificandsAndMmxStateIsTopZeroAllValid) {
    MmxMachine m;
    m.run_program([](Xbyak::CodeGenerator& c) {
        c.fninit();
        c.fld1();         // TOP = 7: R7 holds 1.0, significand 0x8000000000000000
        c.movq(rax, mm7); // mm7 is R7 whatever TOP is
        c.mov(rbx, 0x1122334455667788);
        c.movq(mm3, rbx);
        fxsave(c, save_area);
        c.emms();
        fxsave(c, save_area + 0x200);
        c.hlt();
    });
    EXPECT_EQ(m.reg(x86::rax), 0x8000'0000'0000'0000u);
    EXPECT_EQ((m.read16(save_area + 2) >> 11) & 7, 0u) << "TOP = 0 after an MMX instruction";
    EXPECT_EQ(m.memory.read<std::uint8_t>(save_area + 4).value(), 0xffu) << "all tags valid";
    EXPECT_EQ(m.read64(save_area + 32 + 16 * 3), 0x1122334455667788u) << "ST(3) = R3 = mm3";
    EXPECT_EQ(m.read16(save_area + 32 + 16 * 3 + 8), 0xffffu) << "exponent and sign set to ones";
    EXPECT_EQ(m.memory.read<std::uint8_t>(save_area + 0x200 + 4).value(), 0u) << "emms: empty";
}

TEST(OpsMmx, SaturatingPackedArithmeticSumOfDifferencesAndByteMask) {
    MmxMachine m;
    m.run_program([](Xbyak::CodeGenerator& c) {
        c.mov(rax, 0x7fff'0001'8000'fffe);
        c.movq(mm0, rax);
        c.mov(rax, 0x0001'0001'ffff'ffff);
        c.movq(mm1, rax);
        c.paddsw(mm0, mm1);
        c.movq(rbx, mm0);
        c.mov(rax, 0x0102'0304'0506'0708);
        c.movq(mm2, rax);
        c.mov(rax, 0x0807'0605'0403'0201);
        c.movq(mm3, rax);
        c.psadbw(mm2, mm3);
        c.movq(rcx, mm2);
        c.mov(rax, 0x8000'ff00'7f80'01ff);
        c.movq(mm4, rax);
        c.pmovmskb(edx, mm4);
        c.mov(rax, 0x0004'0003'0002'0001);
        c.movq(mm5, rax);
        c.pshufw(mm6, mm5, 0x1b); // reverse the words
        c.movq(rsi, mm6);
        c.mov(rax, 0x1111'2222'3333'4444);
        c.movq(mm7, rax);
        c.mov(rax, 0x5555'6666'7777'8888);
        c.movq(mm1, rax);
        c.palignr(mm7, mm1, 3); // (mm7:mm1) >> 24
        c.movq(rdi, mm7);
        c.hlt();
    });
    EXPECT_EQ(m.reg(x86::rbx), 0x7fff'0002'8000'fffdu);
    EXPECT_EQ(m.reg(x86::rcx), 32u);
    EXPECT_EQ(m.reg(x86::rdx), 0xa5u);
    EXPECT_EQ(m.reg(x86::rsi), 0x0001'0002'0003'0004u);
    EXPECT_EQ(m.reg(x86::rdi), 0x3344'4455'5566'6677u);
}

TEST(OpsMmx, EmulationIsUndefinedAndTaskSwitchedIsDeviceNotAvailable) {
    {
        MmxMachine m;
        m.state.cr0 |= x86::cr0::em;
        m.run_program([](Xbyak::CodeGenerator& c) {
            c.paddb(mm0, mm1);
            c.hlt();
        });
        EXPECT_EQ(m.reg(8), 6u) << "#UD with CR0.EM";
    }
    {
        MmxMachine m;
        m.state.cr0 |= x86::cr0::ts;
        m.run_program([](Xbyak::CodeGenerator& c) {
            c.emms();
            c.hlt();
        });
        EXPECT_EQ(m.reg(8), 7u) << "#NM with CR0.TS";
    }
}

TEST(OpsMmx, Ssse3FormsFollowTheCpuModel) {
    MmxMachine m(soft::CpuModel::Baseline);
    m.run_program([](Xbyak::CodeGenerator& c) {
        c.paddd(mm0, mm1);  // MMX: every model
        c.pshufb(mm0, mm1); // SSSE3: #UD on the baseline model
        c.hlt();
    });
    EXPECT_EQ(m.reg(8), 6u);
}

TEST(OpsMmx, PendingX87ExceptionIsAMathFault) {
    MmxMachine m;
    m.set_idt_gate(16, fault_handler + 0x20, true, 0x18);
    m.assemble(fault_handler + 0x20, [](Xbyak::CodeGenerator& c) {
        c.mov(r8d, 16);
        c.hlt();
    });
    m.run_program([](Xbyak::CodeGenerator& c) {
        c.xor_(r12d, r12d);
        c.fninit();
        c.fnstenv(ptr[r12 + save_area]);
        c.and_(word[r12 + save_area], ~1);      // control: invalid operation unmasked
        c.or_(word[r12 + save_area + 4], 0x81); // status: IE and ES, an exception pending
        c.fldenv(ptr[r12 + save_area]);
        c.paddb(mm0, mm1); // #MF
        c.hlt();
    });
    EXPECT_EQ(m.reg(8), 16u);
}

TEST(OpsMmx, ConversionsBetweenMmAndXmm) {
    MmxMachine m;
    m.run_program([](Xbyak::CodeGenerator& c) {
        c.mov(rax, 0xffff'fffd'0000'0007); // -3, 7
        c.movq(mm0, rax);
        c.mov(rax, 0x4049'0fdb'4049'0fdb); // pi, pi
        c.movq(xmm1, rax);
        c.cvtpi2ps(xmm1, mm0); // low two floats: 7.0, -3.0; high two kept
        c.movq(rbx, xmm1);
        c.mov(rax, 0xc020'0000'3fc0'0000); // 1.5, -2.5
        c.movq(xmm2, rax);
        c.cvttps2pi(mm1, xmm2); // truncated: 1, -2
        c.movq(rcx, mm1);
        c.cvtps2pi(mm2, xmm2); // rounded to nearest even: 2, -2
        c.movq(rdx, mm2);
        c.hlt();
    });
    EXPECT_EQ(m.reg(x86::rbx), 0xc040'0000'40e0'0000u);
    EXPECT_EQ(m.reg(x86::rcx), 0xffff'fffe'0000'0001u);
    EXPECT_EQ(m.reg(x86::rdx), 0xffff'fffe'0000'0002u);
}
