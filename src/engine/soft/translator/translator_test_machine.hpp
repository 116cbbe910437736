// The translator tests' machine: 64-bit CPL 0 with 4 KiB identity pages, programs assembled with
// Xbyak, and run_on_both, which runs a program on both tiers and compares their end states.
#pragma once

#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "engine/soft/soft_test_machine.hpp"

namespace vessel::soft::translator_testing {

using vessel::soft::testing::SoftTestMachine;

constexpr std::uint64_t page_tables = 0x20000;
constexpr std::uint64_t page_table = page_tables + 0x3000; ///< 4 KiB pages for 0-2 MiB
constexpr std::uint64_t handler_address = 0x3000;
constexpr std::uint64_t present_writable = 0x3;

/// A 64-bit CPL 0 machine with 4 KiB identity pages over the first 2 MiB (so tests can unmap
/// and remap single pages) and a 2 MiB page above; hlt with IF clear ends a run.
struct Machine : SoftTestMachine {
    explicit Machine(SoftTier tier, std::uint32_t cpus = 1,
                     soft::SoftPlatformFactory platform = pc::PcSoftPlatform::factory())
        : SoftTestMachine(tier, cpus, std::move(platform)) {
        install_gdt();
        EXPECT_TRUE(memory.write<std::uint64_t>(page_tables, (page_tables + 0x1000) | 3));
        EXPECT_TRUE(memory.write<std::uint64_t>(page_tables + 0x1000, (page_tables + 0x2000) | 3));
        EXPECT_TRUE(memory.write<std::uint64_t>(page_tables + 0x2000, page_table | 3));
        EXPECT_TRUE(memory.write<std::uint64_t>(page_tables + 0x2008, (1u << 21) | 0x83));
        for (std::uint64_t page = 0; page < 512; ++page)
            map(page << 12, page << 12);
        state.cs = x86::flat_segment(0x18, 0xb, true);
        state.cr0 |= x86::cr0::pg;
        state.cr3 = page_tables;
        state.cr4 |= x86::cr4::pae | x86::cr4::osfxsr;
        state.efer = x86::efer::lme | x86::efer::lma;
        set_idt_gate(14, handler_address, true, 0x18);
        set_idt_gate(13, handler_address, true, 0x18);
        load(handler_address, {0xf4}); // hlt
    }

    void map(std::uint64_t linear, std::uint64_t physical, std::uint64_t flags = present_writable) {
        EXPECT_TRUE(memory.write<std::uint64_t>(page_table + 8 * (linear >> 12), physical | flags));
    }
    void unmap(std::uint64_t linear) { map(linear, 0, 0); }

    /// Assembles guest code with Xbyak (position-independent: labels only) at `address`.
    void assemble(std::uint64_t address, const std::function<void(Xbyak::CodeGenerator&)>& body) {
        Xbyak::CodeGenerator code(1 << 16);
        code.setDefaultJmpNEAR(true);
        body(code);
        std::vector<std::uint8_t> bytes(code.getCode(), code.getCode() + code.getSize());
        load(address, bytes);
    }

    soft::Translator::Stats stats() {
        soft::Translator* translator = soft_vcpu().translator();
        return translator != nullptr ? translator->stats() : soft::Translator::Stats{};
    }
};

/// Runs `program` on both tiers; returns the translator machine after checking that its end
/// state and first 2 MiB of RAM equal the interpreter's.
template <typename Program> std::unique_ptr<Machine> run_on_both(Program program) {
    auto interpreted = std::make_unique<Machine>(SoftTier::Interpreter);
    auto translated = std::make_unique<Machine>(SoftTier::Translator);
    program(*interpreted);
    program(*translated);
    EXPECT_EQ(translated->state.rip, interpreted->state.rip);
    for (int i = 0; i < 16; ++i)
        EXPECT_EQ(translated->state.gpr[i], interpreted->state.gpr[i]) << "gpr " << i;
    EXPECT_EQ(translated->state.rflags, interpreted->state.rflags);
    EXPECT_EQ(translated->state.cr2, interpreted->state.cr2);
    std::vector<std::uint8_t> a(2u << 20), b(2u << 20);
    EXPECT_TRUE(interpreted->memory.read_bytes(0, a));
    EXPECT_TRUE(translated->memory.read_bytes(0, b));
    EXPECT_TRUE(a == b) << "guest RAM differs between the tiers";
    return translated;
}

/// Runs `machine` (which loops forever) on another thread, kicks it after 100 ms and expects it
/// back, Kicked, within 50 ms: the budget word makes translated code return within a few chained
/// transitions; the bound leaves room for a loaded CI machine.
inline void expect_a_kick_to_stop_it_quickly(Machine& machine) {
    ASSERT_TRUE(machine.vcpu->set_state(machine.state));
    auto exit = std::async(std::launch::async, [&] { return machine.vcpu->run(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto kicked = std::chrono::steady_clock::now();
    machine.vcpu->kick();
    ASSERT_EQ(exit.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    const auto latency = std::chrono::steady_clock::now() - kicked;
    EXPECT_EQ(exit.get().kind, VcpuExit::Kind::Kicked);
    EXPECT_LT(latency, std::chrono::milliseconds(50));
}

inline VcpuExit run_halted(Machine& machine) {
    const VcpuExit exit = machine.run();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Halted) << exit.message;
    return exit;
}

} // namespace vessel::soft::translator_testing
