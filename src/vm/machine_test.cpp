// Machine on KVM: the virtio_rng conformance guest's queue notifies arrive through ioeventfd
// doorbells and its MSI-X interrupts through irqfd routes, not through the vCPU thread.
#include "vm/machine.hpp"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace vessel {
namespace {

// The test guests are built next to this binary (build/tests/guests).
std::filesystem::path test_guest(const char* name) {
    return std::filesystem::read_symlink("/proc/self/exe").parent_path() / "tests" / "guests" /
           name;
}

struct GuestRun {
    ExitRequest exit;
    std::string output;
    EngineCounters engine;
    std::uint64_t mmio_writes;
};

Result<GuestRun> run_guest(const std::filesystem::path& kernel, EngineChoice engine) {
    MachineConfig config;
    config.kernel_path = kernel;
    config.memory_size = 128u << 20;
    config.engine = engine;
    auto output = std::make_shared<std::string>();
    auto machine = TRY(Machine::create(config, [output](std::span<const std::uint8_t> bytes) {
        output->append(bytes.begin(), bytes.end());
    }));
    ExitRequest exit = machine->run();
    return GuestRun{exit, *output, machine->engine_counters(), machine->mmio_bus().write_count()};
}

TEST(MachineOnKvm, VirtioNotifiesAndInterruptsBypassTheVcpuThread) {
    const auto guest = test_guest("virtio_rng.elf");
    if (!std::filesystem::exists(guest)) GTEST_SKIP() << guest << " not built";
    if (auto kvm = open_kvm_hypervisor(); !kvm)
        GTEST_SKIP() << "KVM unavailable: " << kvm.error().message;
    auto kvm = run_guest(guest, EngineChoice::Kvm);
    ASSERT_TRUE(kvm) << kvm.error().message;
    ASSERT_EQ(kvm->exit.status, 1) << kvm->exit.message << "\n" << kvm->output; // debug-exit 0
    EXPECT_EQ(kvm->output.find("FAIL:"), std::string::npos) << kvm->output;
    // The guest rings queue 0 once per request (6 requests) with a 16-bit write: every one
    // was an ioeventfd, and the used-buffer interrupts that MSI-X delivered went by irqfd.
    EXPECT_GE(kvm->engine.doorbell_rings, 6u);
    EXPECT_GE(kvm->engine.routed_msis, 3u); // 2 unmasked requests + 1 pending sent at unmask

    // The same guest on the software engine makes the same MMIO writes, all on the MMIO bus:
    // on KVM exactly the doorbell rings are missing from it (no exit to Vessel for them).
    auto soft = run_guest(guest, EngineChoice::Soft);
    ASSERT_TRUE(soft) << soft.error().message;
    ASSERT_EQ(soft->exit.status, 1) << soft->output;
    EXPECT_EQ(soft->engine.doorbell_rings, 0u);
    EXPECT_EQ(soft->engine.routed_msis, 0u);
    EXPECT_EQ(soft->mmio_writes - kvm->mmio_writes, kvm->engine.doorbell_rings)
        << "soft " << soft->mmio_writes << " MMIO writes, kvm " << kvm->mmio_writes;
}

} // namespace
} // namespace vessel
