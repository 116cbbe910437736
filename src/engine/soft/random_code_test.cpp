// Robustness: random bytes run as guest code (real, 32-bit protected and 64-bit mode at CPL 0,
// with exception handlers that are random too) must only ever end in a VcpuExit: never a
// crash, an escaped C++ exception or a hang. A watchdog kick ends guests that loop. The exit
// must be one random code can reach (a kick, a shutdown, hlt with IF clear) and the state
// the vCPU reports afterwards architecturally consistent.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <gtest/gtest.h>
#include <mutex>
#include <random>
#include <thread>

#include "engine/soft/soft_test_machine.hpp"

namespace vessel::soft::testing {
namespace {

constexpr std::uint64_t handler_region = 0x20000;
constexpr std::size_t code_bytes = 4096;

/// Kicks the vCPU if run() has not returned within `limit`.
class Watchdog {
  public:
    Watchdog(Vcpu& vcpu, std::chrono::milliseconds limit)
        : m_thread([this, &vcpu, limit] {
              std::unique_lock lock(m_mutex);
              if (!m_done.wait_for(lock, limit, [this] { return m_finished; })) vcpu.kick();
          }) {}
    ~Watchdog() {
        {
            std::lock_guard lock(m_mutex);
            m_finished = true;
        }
        m_done.notify_all();
        m_thread.join();
    }

  private:
    std::mutex m_mutex;
    std::condition_variable m_done;
    bool m_finished{false};
    std::thread m_thread;
};

std::vector<std::uint8_t> random_bytes(std::mt19937_64& random, std::size_t count) {
    std::vector<std::uint8_t> bytes(count);
    for (auto& byte : bytes)
        byte = static_cast<std::uint8_t>(random());
    return bytes;
}

enum class Mode { Real, Protected, Long };

constexpr std::uint64_t page_tables = 0x30000;

/// 64-bit mode at CPL 0 with the first 4 MiB identity-mapped by 2 MiB pages.
void enter_long_mode(SoftTestMachine& machine) {
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(page_tables, (page_tables + 0x1000) | 0x3));
    ASSERT_TRUE(
        machine.memory.write<std::uint64_t>(page_tables + 0x1000, (page_tables + 0x2000) | 0x3));
    for (std::uint64_t i = 0; i < 2; ++i)
        ASSERT_TRUE(machine.memory.write<std::uint64_t>(page_tables + 0x2000 + 8 * i,
                                                        (i << 21) | 0x83)); // present, RW, 2 MiB
    machine.state.cr0 = x86::cr0::pe | x86::cr0::et | x86::cr0::pg;
    machine.state.cr3 = page_tables;
    machine.state.cr4 = x86::cr4::pae | x86::cr4::osfxsr;
    machine.state.efer = x86::efer::lme | x86::efer::lma | x86::efer::sce | x86::efer::nxe;
    machine.state.cs = x86::flat_segment(0x18, 0xb, true);
}

/// RFLAGS bits that always read as zero (Intel SDM Vol. 1, 3.4.3): 3, 5, 15 and 22-63.
constexpr std::uint64_t rflags_reserved_zero =
    (1u << 3) | (1u << 5) | (1u << 15) | ~std::uint64_t{0x3fffff};

bool canonical(std::uint64_t address) {
    const auto high = static_cast<std::int64_t>(address) >> 47;
    return high == 0 || high == -1;
}

/// The oracle: which exits random code may end in, and invariants of the state it leaves.
void check_exit(const VcpuExit& exit, const x86::CpuState& state) {
    switch (exit.kind) {
    case VcpuExit::Kind::Kicked:   // still running when the watchdog fired
    case VcpuExit::Kind::Shutdown: // triple fault
        break;
    case VcpuExit::Kind::Debug:
        ADD_FAILURE() << "debug stop without a debugger";
        break;
    case VcpuExit::Kind::Halted: // only hlt with interrupts off ends a run
        EXPECT_EQ(state.rflags & x86::rflags::if_, 0u) << "halted with IF set";
        break;
    case VcpuExit::Kind::Error:
        // What the engine refuses by name: code outside RAM (MMIO, unbacked addresses) and
        // the features it lists as unsupported (e.g. virtual-8086 mode, fdisi). Any other
        // Error is the engine giving up without saying why.
        EXPECT_TRUE(exit.message.find("which is not RAM") != std::string::npos ||
                    exit.message.find("not supported") != std::string::npos ||
                    exit.message.find("unsupported instruction") != std::string::npos)
            << "the engine gave up on guest code: " << exit.message;
        break;
    }
    EXPECT_EQ(state.rflags & x86::rflags::fixed1, x86::rflags::fixed1) << std::hex << state.rflags;
    EXPECT_EQ(state.rflags & rflags_reserved_zero, 0u) << std::hex << state.rflags;
    // EFER.LMA is CR0.PG && EFER.LME (Intel SDM Vol. 3, 10.8.5); 64-bit code needs it.
    const bool paging = (state.cr0 & x86::cr0::pg) != 0;
    const bool long_mode_active = (state.efer & x86::efer::lma) != 0;
    EXPECT_EQ(long_mode_active, paging && (state.efer & x86::efer::lme) != 0)
        << std::hex << "cr0 " << state.cr0 << " efer " << state.efer;
    if (state.cs.long_mode && long_mode_active) {
        EXPECT_TRUE(canonical(state.rip)) << std::hex << state.rip;
    } else {
        EXPECT_LE(state.rip, 0xffffffffu) << std::hex << "rip beyond 32 bits outside 64-bit code";
    }
    if ((state.cr0 & x86::cr0::pe) == 0) {
        EXPECT_FALSE(state.cs.long_mode) << "64-bit CS in real mode";
    }
}

void run_random_guest(std::uint64_t seed, Mode mode) {
    std::mt19937_64 random(seed);
    SoftTestMachine machine;
    if (mode != Mode::Real) {
        machine.install_gdt();
        if (mode == Mode::Long) enter_long_mode(machine);
        for (unsigned vector = 0; vector < 256; ++vector)
            machine.set_idt_gate(vector, handler_region + 16 * (random() % 256), mode == Mode::Long,
                                 mode == Mode::Long ? 0x18 : 0x08);
    } else {
        machine.state.cr0 = x86::cr0::et;
        machine.state.cs = x86::SegmentRegister{};
        machine.state.ds = machine.state.es = machine.state.ss = x86::SegmentRegister{};
        machine.state.cs.type = 0xb;
        // Real-mode IVT at 0: every vector points somewhere into the random handler region.
        for (unsigned vector = 0; vector < 256; ++vector) {
            const auto offset = static_cast<std::uint16_t>(16 * (random() % 256));
            const std::uint32_t entry = offset | (handler_region >> 4) << 16;
            ASSERT_TRUE(machine.memory.write(4 * vector, entry));
        }
        machine.state.gpr[x86::rsp] = 0x7000;
    }
    machine.load(SoftTestMachine::code_address, random_bytes(random, code_bytes));
    machine.load(handler_region, random_bytes(random, code_bytes));
    machine.state.rflags |= random() & 0xcd5; // some arithmetic flags, maybe IF
    for (int index = 0; index < (mode == Mode::Long ? 16 : 8); ++index)
        if (index != x86::rsp) machine.state.gpr[index] = random() & 0xffffffff;
    // Two slices: the second resumes a kicked guest from the state the first left behind.
    for (int slice = 0; slice < 2; ++slice) {
        VcpuExit exit;
        {
            Watchdog watchdog(*machine.vcpu, std::chrono::milliseconds(10));
            exit = machine.run();
        }
        check_exit(exit, machine.state);
        machine.vcpu->clear_kick();
        if (exit.kind != VcpuExit::Kind::Kicked) return;
    }
}

/// VESSEL_RANDOM_CODE_RUNS overrides the bounded default for long runs.
std::uint64_t run_count() {
    const char* text = std::getenv("VESSEL_RANDOM_CODE_RUNS");
    return text != nullptr ? std::strtoull(text, nullptr, 10) : 100;
}

TEST(SoftEngineRobustness, RandomProtectedModeCodeEndsInAnExit) {
    for (std::uint64_t seed = 1; seed <= run_count(); ++seed) {
        SCOPED_TRACE(seed);
        run_random_guest(seed, Mode::Protected);
        if (HasFailure()) break; // the first failing seed is the report
    }
}

TEST(SoftEngineRobustness, RandomRealModeCodeEndsInAnExit) {
    for (std::uint64_t seed = 1; seed <= run_count(); ++seed) {
        SCOPED_TRACE(seed);
        run_random_guest(seed, Mode::Real);
        if (HasFailure()) break; // the first failing seed is the report
    }
}

TEST(SoftEngineRobustness, RandomLongModeCodeEndsInAnExit) {
    for (std::uint64_t seed = 1; seed <= run_count(); ++seed) {
        SCOPED_TRACE(seed);
        run_random_guest(seed, Mode::Long);
        if (HasFailure()) break; // the first failing seed is the report
    }
}

} // namespace
} // namespace vessel::soft::testing
