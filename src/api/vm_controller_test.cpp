// Tests for VmController: a real VM (the ticker test guest on the software engine) is started,
// paused, resumed and stopped, and every thread, fd and mapping it made is gone afterwards.
#include "api/vm_controller.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <thread>

namespace vessel::api {
namespace {

std::size_t directory_entries(const char* path) {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(path))
        ++count;
    return count;
}

// Mappings of exactly `size` bytes. Thread stacks and malloc arenas stay cached after threads
// end, so the test looks for the guest RAM mapping by its (unusual) size instead of counting.
std::size_t mappings_of_size(std::uint64_t size) {
    std::ifstream maps("/proc/self/maps");
    std::size_t count = 0;
    for (std::string line; std::getline(maps, line);) {
        std::uint64_t start = std::stoull(line, nullptr, 16);
        std::uint64_t end = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
        if (end - start == size) ++count;
    }
    return count;
}

// The test guests are built next to this binary (build/tests/guests).
std::filesystem::path test_guest(const char* name) {
    return std::filesystem::read_symlink("/proc/self/exe").parent_path() / "tests" / "guests" /
           name;
}

TEST(VmController, LifecycleLeavesNoThreadsFdsOrMappings) {
    auto ticker = test_guest("ticker.elf");
    if (!std::filesystem::exists(ticker)) GTEST_SKIP() << ticker << " not built";
    const std::size_t threads_before = directory_entries("/proc/self/task");
    const std::size_t fds_before = directory_entries("/proc/self/fd");
    constexpr std::uint64_t ram_size = 36u << 20;
    const std::size_t ram_mappings_before = mappings_of_size(ram_size);
    std::atomic<std::size_t> console_bytes{0};
    {
        auto controller =
            VmController::create([&console_bytes](std::span<const std::uint8_t> bytes) {
                console_bytes += bytes.size();
            });
        ASSERT_TRUE(controller);
        VmController& vm = **controller;
        MachineConfig config;
        config.kernel_path = ticker;
        config.command_line = "ticker";
        config.memory_size = ram_size;
        config.engine = EngineChoice::Soft;
        ASSERT_TRUE(vm.start(config));
        EXPECT_EQ(vm.state(), VmState::Running);
        EXPECT_GT(directory_entries("/proc/self/task"), threads_before);
        EXPECT_EQ(mappings_of_size(ram_size), ram_mappings_before + 1);
        for (int i = 0; i < 200 && console_bytes.load() < 40; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        ASSERT_GE(console_bytes.load(), 40u) << "the ticker guest printed nothing";
        ASSERT_TRUE(vm.pause());
        EXPECT_EQ(vm.state(), VmState::Paused);
        ASSERT_TRUE(vm.resume());
        vm.stop(exit_status::clean, "test ends the VM");
        EXPECT_EQ(vm.state(), VmState::Stopped);
        EXPECT_GT(vm.counters().io_writes, 40u);
    }
    EXPECT_EQ(directory_entries("/proc/self/task"), threads_before);
    EXPECT_EQ(directory_entries("/proc/self/fd"), fds_before);
    EXPECT_EQ(mappings_of_size(ram_size), ram_mappings_before);
}

} // namespace
} // namespace vessel::api
