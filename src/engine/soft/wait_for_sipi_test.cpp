// An application processor in wait-for-SIPI sleeps, whatever is pending for it, until a SIPI;
// an NMI sent meanwhile is held (blocked, not dropped) and taken once the SIPI has started it.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <future>
#include <pthread.h>
#include <thread>

#include "engine/soft/soft_test_machine.hpp"

using namespace vessel;
using vessel::soft::testing::SoftTestMachine;

namespace {

constexpr std::uint32_t apic_svr = 0xf0;      ///< spurious-interrupt vector register
constexpr std::uint32_t apic_icr_low = 0x300; ///< interrupt command register, bits 31:0
constexpr std::uint32_t apic_icr_high = 0x310;
constexpr std::uint32_t svr_enabled = 0x1ff;            ///< APIC software-enabled, vector 0xff
constexpr std::uint32_t icr_to_apic_1 = 0x01000000;     ///< destination field: APIC ID 1
constexpr std::uint32_t icr_fixed_vector_0x40 = 0x4040; ///< fixed, assert, vector 0x40
constexpr std::uint32_t icr_nmi = 0x4400;               ///< NMI, assert
constexpr std::uint32_t icr_sipi_page_0x10 = 0x4610;    ///< start-up at 0x10000
constexpr std::uint64_t start_address = 0x10000;
constexpr std::uint64_t flag_address = 0x2000;
constexpr std::uint64_t nmi_flag_address = 0x2001;
constexpr std::uint64_t nmi_vector_entry = 2 * 4; ///< real-mode IVT entry of vector 2 (NMI)
constexpr std::uint64_t nmi_handler = 0x3000;

/// The AP's code: at the start page (real mode, CS = 0x1000) "mov byte [0x2000], 0x42; hlt";
/// an NMI handler at 0:0x3000, "mov byte [0x2001], 0x99; iret", in the IVT's NMI entry.
void load_ap_code(SoftTestMachine& machine) {
    machine.load(start_address, {0xc6, 0x06, 0x00, 0x20, 0x42, 0xf4});
    machine.load(nmi_handler, {0xc6, 0x06, 0x01, 0x20, 0x99, 0xcf});
    machine.load(nmi_vector_entry, {0x00, 0x30, 0x00, 0x00}); // offset 0x3000, segment 0
}

/// Reads `address` until it holds `value` (at most 10 s); returns what it last held.
std::uint8_t wait_for_byte(SoftTestMachine& machine, std::uint64_t address, std::uint8_t value) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::uint8_t byte = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        byte = machine.memory.read<std::uint8_t>(address).value();
        if (byte == value) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return byte;
}

double cpu_milliseconds(clockid_t clock) {
    timespec time{};
    clock_gettime(clock, &time);
    return static_cast<double>(time.tv_sec) * 1e3 + static_cast<double>(time.tv_nsec) / 1e6;
}

} // namespace

TEST(SoftWaitForSipi, APendingInterruptOrNmiDoesNotMakeTheWaitSpinAndASipiStillStartsIt) {
    // The platform of a real VM: an application processor halted with IF=0 waits for SIPI.
    SoftTestMachine machine(SoftTier::Interpreter, 2,
                            pc::PcSoftPlatform::factory(/*halted_processors_wait=*/true));
    soft::SoftPlatform& platform = *machine.soft_vcpu().core().platform();
    auto ap = machine.vm->create_vcpu(1).value(); // a fresh AP waits for SIPI
    load_ap_code(machine);
    // A maskable interrupt and an NMI pending for the AP (sent by CPU 0: the test thread).
    platform.apic_mmio_write(0, apic_svr, svr_enabled);
    platform.apic_mmio_write(1, apic_svr, svr_enabled);
    platform.apic_mmio_write(0, apic_icr_high, icr_to_apic_1);
    platform.apic_mmio_write(0, apic_icr_low, icr_fixed_vector_0x40);
    platform.apic_mmio_write(0, apic_icr_low, icr_nmi);
    ASSERT_TRUE(platform.has_interrupt(1));

    std::promise<clockid_t> ap_clock;
    auto ap_exit = std::async(std::launch::async, [&] {
        clockid_t clock{};
        pthread_getcpuclockid(pthread_self(), &clock);
        ap_clock.set_value(clock);
        return ap->run();
    });
    const clockid_t clock = ap_clock.get_future().get();
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // into the wait
    const double before = cpu_milliseconds(clock);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double used = cpu_milliseconds(clock) - before;
    EXPECT_LT(used, 10.0) << "the AP waiting for SIPI used " << used << " ms of CPU in 100 ms";

    platform.apic_mmio_write(0, apic_icr_low, icr_sipi_page_0x10);
    EXPECT_EQ(wait_for_byte(machine, flag_address, 0x42), 0x42) << "the SIPI did not start the AP";
    EXPECT_EQ(wait_for_byte(machine, nmi_flag_address, 0x99), 0x99) << "the held NMI was lost";
    // It halted with IF=0 after its store: it waits for INIT/SIPI/NMI until kicked.
    ap->kick();
    ASSERT_EQ(ap_exit.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const VcpuExit exit = ap_exit.get();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Kicked) << exit.message;
    const x86::CpuState state = ap->state().value();
    EXPECT_EQ(state.cs.base + state.rip, start_address + 6); // past the store and hlt
}

TEST(SoftWaitForSipi, AnNmiSentWhileWaitingIsHeldAndTakenAfterTheSipi) {
    // Intel SDM Vol. 3C, 26.6.2: the wait-for-SIPI state blocks NMIs. Blocked is held, not
    // discarded (as an NMI arriving during an NMI handler waits for its IRET), so the AP takes
    // it once started, before its first instruction.
    SoftTestMachine machine(SoftTier::Interpreter, 2,
                            pc::PcSoftPlatform::factory(/*halted_processors_wait=*/true));
    soft::SoftPlatform& platform = *machine.soft_vcpu().core().platform();
    auto ap = machine.vm->create_vcpu(1).value(); // a fresh AP waits for SIPI
    load_ap_code(machine);
    platform.apic_mmio_write(0, apic_svr, svr_enabled);
    platform.apic_mmio_write(0, apic_icr_high, icr_to_apic_1);

    std::promise<clockid_t> ap_clock;
    auto ap_exit = std::async(std::launch::async, [&] {
        clockid_t clock{};
        pthread_getcpuclockid(pthread_self(), &clock);
        ap_clock.set_value(clock);
        return ap->run();
    });
    const clockid_t clock = ap_clock.get_future().get();
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // into the wait
    platform.apic_mmio_write(0, apic_icr_low, icr_nmi);         // arrives while it waits
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const double before = cpu_milliseconds(clock);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double used = cpu_milliseconds(clock) - before;
    EXPECT_LT(used, 10.0) << "the AP with an NMI held used " << used << " ms of CPU in 100 ms";
    EXPECT_EQ(machine.memory.read<std::uint8_t>(nmi_flag_address).value(), 0)
        << "the NMI was taken in wait-for-SIPI";

    platform.apic_mmio_write(0, apic_icr_low, icr_sipi_page_0x10);
    EXPECT_EQ(wait_for_byte(machine, nmi_flag_address, 0x99), 0x99)
        << "the NMI held in wait-for-SIPI was dropped";
    EXPECT_EQ(wait_for_byte(machine, flag_address, 0x42), 0x42)
        << "the AP did not go on after the NMI handler's iret";
    ap->kick();
    ASSERT_EQ(ap_exit.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const VcpuExit exit = ap_exit.get();
    EXPECT_EQ(exit.kind, VcpuExit::Kind::Kicked) << exit.message;
    const x86::CpuState state = ap->state().value();
    EXPECT_EQ(state.cs.base + state.rip, start_address + 6); // back from the handler, then hlt
}
