// Tests for VmController: a real VM (the ticker test guest on the software engine) is started,
// paused, resumed and stopped, and every thread, fd and mapping it made is gone afterwards.
#include "api/vm_controller.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace vessel::api {
namespace {

/// Names in a /proc directory (thread ids in task/, fd numbers in fd/ with their targets).
std::set<std::string> directory_names(const char* path, bool with_link_target = false) {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
        std::string name = entry.path().filename();
        std::error_code error;
        if (with_link_target) name += " -> " + std::filesystem::read_symlink(entry, error).string();
        names.insert(name);
    }
    return names;
}

/// Entries of `now` that `before` lacks: what a test created and did not release. Entries of
/// `before` that are gone are fine (threads or fds of earlier tests that ended meanwhile).
std::vector<std::string> added(const std::set<std::string>& before,
                               const std::set<std::string>& now) {
    std::vector<std::string> extra;
    std::ranges::set_difference(now, before, std::back_inserter(extra));
    return extra;
}

/// Whether one mapping of this process spans all of [start, start + size). The kernel may
/// merge the guest RAM mapping with a neighbour of the same flags, so this looks for a mapping
/// that contains the range rather than one of exactly its size.
bool mapped(std::uintptr_t start, std::uint64_t size) {
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
        const std::uint64_t first = std::stoull(line, nullptr, 16);
        const std::uint64_t end = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
        if (first <= start && start + size <= end) return true;
    }
    return false;
}

// The test guests are built next to this binary (build/tests/guests).
std::filesystem::path test_guest(const char* name) {
    return std::filesystem::read_symlink("/proc/self/exe").parent_path() / "tests" / "guests" /
           name;
}

TEST(VmController, LifecycleLeavesNoThreadsFdsOrMappings) {
    auto ticker = test_guest("ticker.elf");
    if (!std::filesystem::exists(ticker)) GTEST_SKIP() << ticker << " not built";
    const auto threads_before = directory_names("/proc/self/task");
    const auto fds_before = directory_names("/proc/self/fd", true);
    constexpr std::uint64_t ram_size = 36u << 20;
    std::optional<VmController::HostRange> ram;
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
        EXPECT_FALSE(added(threads_before, directory_names("/proc/self/task")).empty());
        ram = vm.guest_ram_mapping();
        ASSERT_TRUE(ram);
        EXPECT_EQ(ram->size, ram_size);
        EXPECT_TRUE(mapped(ram->start, ram->size)) << "guest RAM not found in /proc/self/maps";
        for (int i = 0; i < 200 && console_bytes.load() < 40; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        ASSERT_GE(console_bytes.load(), 40u) << "the ticker guest printed nothing";
        ASSERT_TRUE(vm.pause());
        EXPECT_EQ(vm.state(), VmState::Paused);
        ASSERT_TRUE(vm.resume());
        vm.stop(exit_status::clean, "test ends the VM");
        EXPECT_EQ(vm.state(), VmState::Stopped);
        EXPECT_GT(vm.counters().io_writes, 40u);
        EXPECT_FALSE(vm.guest_ram_mapping()) << "a stopped VM still holds its RAM";
    }
    EXPECT_EQ(added(threads_before, directory_names("/proc/self/task")),
              std::vector<std::string>{});
    EXPECT_EQ(added(fds_before, directory_names("/proc/self/fd", true)),
              std::vector<std::string>{});
    EXPECT_FALSE(mapped(ram->start, ram->size)) << "guest RAM is still mapped";
}

} // namespace
} // namespace vessel::api
