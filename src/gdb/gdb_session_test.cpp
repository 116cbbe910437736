// Tests of the GDB session's commands against a fake target.
#include "gdb/gdb_session.hpp"

#include <gtest/gtest.h>

#include "gdb/fake_debug_target.hpp"
#include "gdb/gdb_packet.hpp"
#include "gdb/target_description.hpp"

namespace vessel::gdb {
namespace {

class GdbSessionTest : public ::testing::Test {
  protected:
    GdbSessionTest() : target(*GuestMemory::create(1 << 20), 2), session(target) {}

    std::string ask(std::string_view packet) {
        SessionAction action = session.handle(packet);
        EXPECT_EQ(action.kind, SessionAction::Kind::Reply) << packet;
        return action.reply;
    }
    /// 64-bit paging mapping linear 0xffff'8000'0000'0000 + n to physical n for the first 2 MiB.
    void enable_long_mode_paging() {
        GuestMemory& memory = target.memory();
        const std::uint64_t pml4 = 0x10000, pdpt = 0x11000, directory = 0x12000;
        ASSERT_TRUE(memory.write<std::uint64_t>(pml4 + 256 * 8, pdpt | 3));
        ASSERT_TRUE(memory.write<std::uint64_t>(pdpt, directory | 3));
        ASSERT_TRUE(memory.write<std::uint64_t>(directory, 0 | 0x83)); // 2 MiB page at 0
        x86::CpuState& state = target.states[0];
        state.cr0 = x86::cr0::pe | x86::cr0::pg;
        state.cr4 = x86::cr4::pae;
        state.efer = x86::efer::lme | x86::efer::lma;
        state.cr3 = pml4;
    }

    FakeDebugTarget target;
    GdbSession session;
};

TEST_F(GdbSessionTest, AnnouncesFeaturesAndServesTheTargetDescription) {
    EXPECT_NE(ask("qSupported:multiprocess+;swbreak+").find("qXfer:features:read+"),
              std::string::npos);
    const std::string first = ask("qXfer:features:read:target.xml:0,40");
    ASSERT_EQ(first[0], 'm');
    EXPECT_EQ(first.substr(1), target_xml().substr(0, 0x40));
    const std::string whole = ask("qXfer:features:read:target.xml:0,ffff");
    EXPECT_EQ(whole[0], 'l');
    EXPECT_NE(whole.find("org.gnu.gdb.i386.segments"), std::string::npos);
    EXPECT_NE(whole.find(R"(name="cr3")"), std::string::npos);
    EXPECT_EQ(ask("qXfer:features:read:target.xml:ffff,10"), "l");
    EXPECT_EQ(ask("qXfer:features:read:nope.xml:0,10"), "E00");
}

TEST_F(GdbSessionTest, VcpusAreThreads) {
    EXPECT_EQ(ask("qfThreadInfo"), "m1,2");
    EXPECT_EQ(ask("qsThreadInfo"), "l");
    EXPECT_EQ(ask("Hg2"), "OK");
    EXPECT_EQ(ask("qC"), "QC2");
    EXPECT_EQ(ask("T2"), "OK");
    EXPECT_EQ(ask("T3"), "E16");
    EXPECT_EQ(ask("Hg3"), "E16");
    EXPECT_EQ(ask("Hc-1"), "OK");
    EXPECT_EQ(ask("qThreadExtraInfo,1"), to_hex(std::string_view("vCPU 0")));
}

TEST_F(GdbSessionTest, RegistersFollowTheSelectedThread) {
    target.states[1].gpr[x86::rax] = 0x1122334455667788;
    target.states[1].rip = 0xffffffff81000000;
    target.states[1].fs.base = 0xabcd;
    ASSERT_EQ(ask("Hg2"), "OK");
    EXPECT_EQ(ask("p0"), "8877665544332211");
    EXPECT_EQ(ask("p10"), "00000081ffffffff");
    EXPECT_EQ(ask("p39"), "cdab000000000000");   // fs_base is register 57
    EXPECT_EQ(ask("p18"), std::string(20, 'x')); // st0: not kept, unavailable
    EXPECT_EQ(ask("p2"), "0000000000000000");    // rcx
    EXPECT_EQ(ask("P2=efbeadde00000000"), "OK");
    EXPECT_EQ(target.states[1].gpr[x86::rcx], 0xdeadbeefu);
    EXPECT_EQ(ask("P2=1234"), "E16");
    EXPECT_EQ(ask("p999"), "E16");
    const std::string all = ask("g");
    EXPECT_EQ(all.substr(0, 16), "8877665544332211");
    EXPECT_EQ(ask("G" + all), "OK");
    EXPECT_EQ(target.states[1].rip, 0xffffffff81000000u);
    EXPECT_EQ(ask("G" + all.substr(2)), "E16");
}

TEST_F(GdbSessionTest, VectorRegistersAndTheAvxFeatureWhereTheEngineOffersThem) {
    EXPECT_NE(target_xml().find(R"(<feature name="org.gnu.gdb.i386.avx">)"), std::string::npos);
    EXPECT_NE(target_xml().find(R"(name="ymm15h" bitsize="128" type="uint128" regnum="81")"),
              std::string::npos);
    // Without vector registers from the engine: xmm0 (40), ymm0h (66) and xcr0 (65) unavailable.
    EXPECT_EQ(ask("p28"), std::string(32, 'x'));
    EXPECT_EQ(ask("p42"), std::string(32, 'x'));
    EXPECT_EQ(ask("p41"), std::string(16, 'x'));
    EXPECT_EQ(ask("P42=" + std::string(32, '1')), "OK") << "ignored";

    target.vectors.resize(2);
    VectorRegisters& vectors = target.vectors[0];
    vectors.xmm[0] = {0x1111'2222'3333'4444, 0x5555'6666'7777'8888};
    vectors.ymm_upper[0] = {0x0102'0304'0506'0708, 0x090a'0b0c'0d0e'0f10};
    vectors.ymm_upper[15] = {0xaa, 0xbb};
    vectors.xcr0 = 7;
    EXPECT_EQ(ask("p28"), "44443333222211118888777766665555");
    EXPECT_EQ(ask("p42"), "0807060504030201100f0e0d0c0b0a09");
    EXPECT_EQ(ask("p51"), "aa00000000000000bb00000000000000"); // ymm15h
    EXPECT_EQ(ask("p41"), "0700000000000000");
    EXPECT_EQ(ask("p38"), "801f0000"); // mxcsr
    EXPECT_EQ(ask("P43=" + std::string(30, '0') + "ff"), "OK");
    EXPECT_EQ(target.vectors[0].ymm_upper[1][1], 0xff00'0000'0000'0000u);
    EXPECT_EQ(ask("P2f=00000000000000000000000000000080"), "OK"); // xmm7
    EXPECT_EQ(target.vectors[0].xmm[7][1], 0x8000'0000'0000'0000u);
    EXPECT_EQ(ask("P38=1234"), "E16") << "mxcsr is 4 bytes";
    const std::string all = ask("g");
    EXPECT_NE(all.find("0807060504030201100f0e0d0c0b0a09"), std::string::npos);
    EXPECT_EQ(ask("G" + all), "OK");
    EXPECT_EQ(target.vectors[0].ymm_upper[0][0], 0x0102'0304'0506'0708u);
}

TEST_F(GdbSessionTest, MemoryWithoutPagingIsPhysical) {
    EXPECT_EQ(ask("M1000,4:01020304"), "OK");
    EXPECT_EQ(ask("m1000,4"), "01020304");
    EXPECT_EQ(ask("X1004,2:\x7d\x03*"), "OK"); // escaped '#' then '*'
    EXPECT_EQ(ask("m1004,2"), "232a");
    EXPECT_EQ(ask("m200000,4"), "E0e"); // past the 1 MiB of RAM
    EXPECT_EQ(ask("mfffff,4"), "00");   // partial read up to the end of RAM
    EXPECT_EQ(ask("M1000,4:0102"), "E16");
    EXPECT_EQ(ask("Mfffff,2:0102"), "E0e"); // all or nothing
}

TEST_F(GdbSessionTest, MemoryGoesThroughPageTablesUnlessPhysicalMode) {
    enable_long_mode_paging();
    ASSERT_TRUE(target.memory().write<std::uint32_t>(0x5000, 0xcafef00d));
    EXPECT_EQ(ask("mffff800000005000,4"), "0df0feca");
    EXPECT_EQ(ask("m5000,4"), "E0e"); // the low half is not mapped
    EXPECT_EQ(ask("qRcmd," + to_hex(std::string_view("phys on"))).empty(), false);
    EXPECT_EQ(ask("qqemu.PhyMemMode"), "1");
    EXPECT_EQ(ask("m5000,4"), "0df0feca");
    EXPECT_EQ(ask("Qqemu.PhyMemMode:0"), "OK");
    EXPECT_EQ(ask("m5000,4"), "E0e");
}

TEST_F(GdbSessionTest, BreakpointsAndWatchpointsReachEveryVcpu) {
    EXPECT_EQ(ask("Z0,ffffffff81000000,1"), "OK");
    EXPECT_EQ(ask("Z2,1000,4"), "OK");
    EXPECT_EQ(ask("Z4,2000,8"), "OK");
    EXPECT_EQ(ask("Z2,1000,0"), "E1c");
    EXPECT_EQ(ask("Z7,1000,1"), "E16");
    EXPECT_EQ(ask("Z0,zz,1"), "E16");
    ASSERT_EQ(session.handle("c").kind, SessionAction::Kind::Resume);
    ASSERT_EQ(target.last_resume.size(), 2u);
    for (const GuestDebug& debug : target.last_resume) {
        EXPECT_TRUE(debug.enabled);
        EXPECT_FALSE(debug.single_step);
        EXPECT_EQ(debug.software_breakpoints, std::vector<std::uint64_t>{0xffffffff81000000});
        EXPECT_EQ(debug.hardware_points.size(), 2u);
    }
    EXPECT_EQ(ask("z0,ffffffff81000000,1"), "OK");
    EXPECT_EQ(ask("z2,1000,4"), "OK");
    EXPECT_EQ(ask("z4,2000,8"), "OK");
    ASSERT_EQ(session.handle("c").kind, SessionAction::Kind::Resume);
    EXPECT_FALSE(target.last_resume[0].enabled); // nothing left: full speed
}

TEST_F(GdbSessionTest, KvmLimitsHardwarePoints) {
    FakeDebugTarget kvm(*GuestMemory::create(1 << 20), 1, 4);
    GdbSession limited(kvm);
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(limited.handle(fmt::format("Z1,{:x},1", 0x1000 + i)).reply, "OK");
    EXPECT_EQ(limited.handle("Z1,2000,1").reply, "E1c");
    EXPECT_EQ(limited.handle("Z0,2000,1").reply, "E1c"); // software ones take registers too
    EXPECT_EQ(limited.handle("z1,1000,1").reply, "OK");
    EXPECT_EQ(limited.handle("Z0,2000,1").reply, "OK");
}

TEST_F(GdbSessionTest, StepAndVcontStepOnlyTheNamedThread) {
    ASSERT_EQ(session.handle("vCont;s:2;c").kind, SessionAction::Kind::Resume);
    EXPECT_FALSE(target.last_resume[0].single_step);
    EXPECT_TRUE(target.last_resume[1].single_step);
    EXPECT_TRUE(target.last_resume[1].step_interrupts_off);
    EXPECT_EQ(ask("Qqemu.sstep=1"), "OK");
    ASSERT_EQ(ask("Hc1"), "OK");
    ASSERT_EQ(session.handle("s").kind, SessionAction::Kind::Resume);
    EXPECT_TRUE(target.last_resume[0].single_step);
    EXPECT_FALSE(target.last_resume[0].step_interrupts_off);
    EXPECT_EQ(ask("vCont?"), "vCont;c;C;s;S");
    EXPECT_EQ(ask("vCont;x"), "E16");
}

TEST_F(GdbSessionTest, StopRepliesNameTheThreadAndWatchpoint) {
    ASSERT_EQ(ask("Z0,100,1"), "OK");
    session.note_stop(1, {DebugEvent::Kind::Breakpoint, 0x100, DebugPointKind::Execute});
    session.note_stop(0, {DebugEvent::Kind::Watchpoint, 0x2000, DebugPointKind::Write});
    EXPECT_EQ(session.take_stop_reply(), "T05thread:2;");
    EXPECT_EQ(ask("qC"), "QC2");
    EXPECT_EQ(ask("?"), "T05thread:2;");
    // The second stop is still pending: continuing reports it without running the VM.
    const unsigned resumes = target.resumes;
    EXPECT_EQ(session.handle("c").reply, "T05watch:2000;thread:1;");
    EXPECT_EQ(target.resumes, resumes);
    session.note_interrupt();
    EXPECT_EQ(session.take_stop_reply(), "T02thread:1;");
}

TEST_F(GdbSessionTest, StaleBreakpointStopsAreDropped) {
    session.note_stop(0, {DebugEvent::Kind::Breakpoint, 0x100, DebugPointKind::Execute});
    EXPECT_EQ(session.take_stop_reply(), ""); // no breakpoint at 0x100 any more
}

TEST_F(GdbSessionTest, DetachKillAndUnknownPackets) {
    EXPECT_EQ(ask("Z0,100,1"), "OK");
    SessionAction detach = session.handle("D");
    EXPECT_EQ(detach.kind, SessionAction::Kind::Detach);
    EXPECT_EQ(detach.reply, "OK");
    EXPECT_FALSE(target.last_resume.at(0).enabled);
    EXPECT_EQ(session.handle("k").kind, SessionAction::Kind::Kill);
    EXPECT_EQ(session.handle("k").reply, "");
    EXPECT_EQ(session.handle("vKill;1").reply, "OK");
    EXPECT_NE(ask("qRcmd," + to_hex(std::string_view("bogus")))
                  .find(to_hex(std::string_view("unknown monitor command"))),
              std::string::npos);
    EXPECT_EQ(ask("qRcmd,zz"), "E16");
    EXPECT_EQ(ask("vMustReplyEmpty"), "");
    EXPECT_EQ(ask("!"), "");
    EXPECT_EQ(ask(""), "");
    EXPECT_EQ(GdbSession::exit_reply(1), "W01");
}

} // namespace
} // namespace vessel::gdb
