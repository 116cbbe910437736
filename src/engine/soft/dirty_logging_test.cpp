// Dirty logging on the software engine: guest stores mark their pages, from the interpreter and
// from translated code, and taking the log makes the next stores mark again.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint64_t buffer = 0x100000; ///< 16 pages the guest keeps writing
constexpr std::uint64_t buffer_pages = 16;

constexpr std::uint64_t pass_counter = 0x90000; ///< the guest counts its passes here

/// 32-bit flat code: for (;;) { for (ecx = 0; ecx < 0x4000; ++ecx) [buffer + ecx*4] = ecx;
/// ++[pass_counter]; }
void load_writer(SoftTestMachine& machine) {
    machine.load(SoftTestMachine::code_address,
                 {
                     0xbe, 0x00, 0x00, 0x10, 0x00,       // mov esi, buffer
                     0x31, 0xc9,                         // xor ecx, ecx
                     0x89, 0x0c, 0x8e,                   // l: mov [esi+ecx*4], ecx
                     0xff, 0xc1,                         // inc ecx
                     0x81, 0xe1, 0xff, 0x3f, 0x00, 0x00, // and ecx, 0x3fff
                     0x75, 0xf3,                         // jnz l
                     0xff, 0x05, 0x00, 0x00, 0x09, 0x00, // inc dword [pass_counter]
                     0xeb, 0xeb,                         // jmp l
                 });
}

/// The same loop in 64-bit mode (the translation tier runs long-mode code), under 4 KiB
/// identity pages for the first 2 MiB.
void load_writer_64(SoftTestMachine& machine) {
    constexpr std::uint64_t tables = 0x20000, table = tables + 0x3000;
    machine.install_gdt();
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(tables, (tables + 0x1000) | 3));
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(tables + 0x1000, (tables + 0x2000) | 3));
    ASSERT_TRUE(machine.memory.write<std::uint64_t>(tables + 0x2000, table | 3));
    for (std::uint64_t page = 0; page < 512; ++page)
        ASSERT_TRUE(machine.memory.write<std::uint64_t>(table + 8 * page, (page << 12) | 3));
    machine.state.cs = x86::flat_segment(0x18, 0xb, true);
    machine.state.cr0 |= x86::cr0::pg;
    machine.state.cr3 = tables;
    machine.state.cr4 |= x86::cr4::pae;
    machine.state.efer = x86::efer::lme | x86::efer::lma;
    machine.load(SoftTestMachine::code_address,
                 {
                     0xbe, 0x00, 0x00, 0x10, 0x00,             // mov esi, buffer
                     0x31, 0xc9,                               // xor ecx, ecx
                     0x89, 0x0c, 0x8e,                         // l: mov [rsi+rcx*4], ecx
                     0xff, 0xc1,                               // inc ecx
                     0x81, 0xe1, 0xff, 0x3f, 0x00, 0x00,       // and ecx, 0x3fff
                     0x75, 0xf3,                               // jnz l
                     0xff, 0x04, 0x25, 0x00, 0x00, 0x09, 0x00, // inc dword [pass_counter]
                     0xeb, 0xea,                               // jmp l
                 });
}

/// Runs the vCPU until the guest finished two more passes over the buffer (so every buffer
/// page was written after this call began, however slow the host), then kicks it out of run().
void run_two_passes(SoftTestMachine& machine) {
    const std::uint32_t start = machine.memory.read<std::uint32_t>(pass_counter).value();
    auto exit = std::async(std::launch::async, [&] { return machine.vcpu->run(); });
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (machine.memory.read<std::uint32_t>(pass_counter).value() - start < 2 &&
           std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    machine.vcpu->kick();
    ASSERT_EQ(exit.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(exit.get().kind, VcpuExit::Kind::Kicked);
    machine.vcpu->clear_kick();
    EXPECT_GE(machine.memory.read<std::uint32_t>(pass_counter).value() - start, 2u)
        << "the guest loop did not run";
}

std::uint64_t dirty_buffer_pages(const std::vector<std::uint64_t>& words) {
    std::uint64_t count = 0;
    for (std::uint64_t page = buffer / 4096; page < buffer / 4096 + buffer_pages; ++page)
        count += (words[page / 64] >> (page % 64)) & 1;
    return count;
}

void stores_are_logged_in_every_round(SoftTier tier) {
    SoftTestMachine machine(tier);
    load_writer_64(machine);
    ASSERT_TRUE(machine.vcpu->set_state(machine.state));
    DirtyBitmap& log = machine.memory.dirty_pages();
    (void)log.take(); // the loads above
    for (int round = 0; round < 3; ++round) {
        run_two_passes(machine);
        const auto words = log.take();
        // Every round writes the whole buffer again; write entries installed in an earlier
        // round must not let the stores slip past the new log.
        EXPECT_EQ(dirty_buffer_pages(words), buffer_pages) << "round " << round;
        // The buffer, the pass counter and the page tables' dirty bits at most.
        EXPECT_LE(DirtyBitmap::count(words), buffer_pages + 6) << "round " << round;
    }
}

} // namespace

TEST(SoftDirtyLogging, InterpreterStoresAreLoggedInEveryRound) {
    stores_are_logged_in_every_round(SoftTier::Interpreter);
}

TEST(SoftDirtyLogging, TranslatedStoresAreLoggedInEveryRound) {
    stores_are_logged_in_every_round(SoftTier::Translator);
}

TEST(SoftDirtyLogging, TranslatedCodeRunsTheStoreLoop) {
    SoftTestMachine machine(SoftTier::Translator);
    load_writer_64(machine);
    ASSERT_TRUE(machine.vcpu->set_state(machine.state));
    run_two_passes(machine);
    ASSERT_NE(machine.soft_vcpu().translator(), nullptr);
    EXPECT_GT(machine.soft_vcpu().translator()->stats().translated_dispatches, 0u);
}

TEST(SoftDirtyLogging, PageTableDirtyBitUpdatesAreLogged) {
    // The walk sets a PTE's accessed/dirty bits by writing the page table: that page changed.
    SoftTestMachine machine(SoftTier::Interpreter);
    machine.install_gdt();
    constexpr std::uint64_t directory = 0x20000, table = 0x21000;
    ASSERT_TRUE(machine.memory.write<std::uint32_t>(directory, table | 3));
    for (std::uint32_t page = 0; page < 1024; ++page)
        ASSERT_TRUE(machine.memory.write<std::uint32_t>(table + 4 * page, (page << 12) | 3));
    load_writer(machine);
    machine.state.cr3 = directory;
    machine.state.cr0 |= x86::cr0::pg;
    ASSERT_TRUE(machine.vcpu->set_state(machine.state));
    (void)machine.memory.dirty_pages().take();
    run_two_passes(machine);
    const auto words = machine.memory.dirty_pages().take();
    EXPECT_EQ(dirty_buffer_pages(words), buffer_pages);
    EXPECT_TRUE((words[0] >> (table / 4096)) & 1) << "the page table's dirty bits";
}
