// Machine snapshots end to end on the software engine: the ticker guest saved mid-run continues
// in a restored machine exactly where it stopped, twice over; damaged inputs are refused.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "vm/machine.hpp"

namespace vessel {
namespace {

std::filesystem::path test_guest(const char* name) {
    return std::filesystem::read_symlink("/proc/self/exe").parent_path() / "tests" / "guests" /
           name;
}

/// A machine running on a thread of its own, its console output collected.
class RunningMachine {
  public:
    explicit RunningMachine(std::unique_ptr<Machine> machine) : m_machine(std::move(machine)) {
        m_thread = std::thread([this] { m_exit = m_machine->run(); });
    }
    ~RunningMachine() { stop(); }
    static ConsoleOutput collector(std::shared_ptr<std::string> output,
                                   std::shared_ptr<std::mutex> mutex) {
        return [output, mutex](std::span<const std::uint8_t> bytes) {
            std::lock_guard lock(*mutex);
            output->append(bytes.begin(), bytes.end());
        };
    }
    void stop() {
        if (!m_thread.joinable()) return;
        m_machine->request_exit({ExitRequest::Kind::UserQuit, 0, "test done"});
        m_thread.join();
    }
    Machine& machine() { return *m_machine; }

  private:
    std::unique_ptr<Machine> m_machine;
    std::thread m_thread;
    std::optional<ExitRequest> m_exit;
};

struct Console {
    std::shared_ptr<std::string> output = std::make_shared<std::string>();
    std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
    ConsoleOutput sink() { return RunningMachine::collector(output, mutex); }
    std::string text() {
        std::lock_guard lock(*mutex);
        return *output;
    }
    bool wait_for(const std::string& needle) {
        for (int i = 0; i < 600; ++i) {
            if (text().find(needle) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }
};

/// The ticker's line N: "tick N VALUE" with VALUE step N of its LCG from 1.
std::string ticker_line(std::uint32_t line) {
    std::uint32_t value = 1;
    for (std::uint32_t step = 0; step < line; ++step)
        value = value * 1103515245u + 12345u;
    char text[40];
    std::snprintf(text, sizeof(text), "tick %u %08x\n", line, value);
    return text;
}

/// The number of the last "tick N " in output (0 for none). A plain scan: std::regex trips
/// GCC 12's -Wmaybe-uninitialized under the sanitizers (make asan builds with -Werror).
std::uint32_t last_tick(const std::string& output) {
    std::uint32_t last = 0;
    for (std::size_t at = output.find("tick "); at != std::string::npos;
         at = output.find("tick ", at + 1)) {
        std::size_t end = at + 5;
        while (end < output.size() && output[end] >= '0' && output[end] <= '9')
            ++end;
        if (end > at + 5 && end < output.size() && output[end] == ' ')
            last = static_cast<std::uint32_t>(std::stoul(output.substr(at + 5, end - at - 5)));
    }
    return last;
}

class MachineSnapshot : public ::testing::Test {
  protected:
    void SetUp() override {
        m_guest = test_guest("ticker.elf");
        if (!std::filesystem::exists(m_guest)) GTEST_SKIP() << m_guest << " not built";
        m_directory = std::filesystem::temp_directory_path() /
                      ("vessel-snapshot-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(m_directory);
        m_state = m_directory / "vm.state";
        m_memory = m_directory / "vm.mem";
    }
    void TearDown() override {
        if (!m_directory.empty()) std::filesystem::remove_all(m_directory);
    }

    /// Boots the ticker, lets it print a few lines, saves it; returns its last line number.
    std::uint32_t save_running_ticker() {
        MachineConfig config;
        config.kernel_path = m_guest;
        config.memory_size = 64u << 20;
        config.engine = EngineChoice::Soft;
        Console console;
        auto machine = Machine::create(config, console.sink());
        EXPECT_TRUE(machine) << machine.error().message;
        if (!machine) return 0;
        RunningMachine running(std::move(*machine));
        EXPECT_TRUE(console.wait_for(ticker_line(3))) << console.text();
        auto unpaused = running.machine().save_snapshot(m_state, m_memory);
        EXPECT_FALSE(unpaused);
        if (!unpaused) {
            EXPECT_EQ(unpaused.error().message, "the VM must be paused to take a snapshot");
        }
        running.machine().pause();
        auto saved = running.machine().save_snapshot(m_state, m_memory);
        EXPECT_TRUE(saved) << saved.error().message;
        const std::uint32_t last = last_tick(console.text());
        running.stop();
        EXPECT_EQ(last_tick(console.text()), last) << "nothing runs after the snapshot";
        return last;
    }

    std::filesystem::path m_guest, m_directory, m_state, m_memory;
};

TEST_F(MachineSnapshot, TickerContinuesWhereItStoppedInEachOfTwoRestores) {
    const std::uint32_t last = save_running_ticker();
    ASSERT_GE(last, 3u);
    for (int run = 0; run < 2; ++run) {
        Console console;
        auto machine = Machine::restore(m_state, m_memory, console.sink(), false);
        ASSERT_TRUE(machine) << machine.error().message;
        RunningMachine running(std::move(*machine));
        ASSERT_TRUE(console.wait_for(ticker_line(last + 2))) << console.text();
        running.stop();
        // No reboot: the first thing the restored guest prints is the line after the last one.
        EXPECT_TRUE(console.text().starts_with(ticker_line(last + 1) + ticker_line(last + 2)))
            << "run " << run << ":\n"
            << console.text();
    }
}

TEST_F(MachineSnapshot, RestoredPausedWaitsForResume) {
    const std::uint32_t last = save_running_ticker();
    Console console;
    auto machine = Machine::restore(m_state, m_memory, console.sink(), true);
    ASSERT_TRUE(machine) << machine.error().message;
    RunningMachine running(std::move(*machine));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(console.text(), "");
    running.machine().resume();
    EXPECT_TRUE(console.wait_for(ticker_line(last + 1))) << console.text();
}

// A VM restored from a memory file saves over that same file and runs on: the new file replaces
// the old one, which stays mapped under the running VM.
TEST_F(MachineSnapshot, RestoredVmSavesOverItsOwnFilesAndRunsOn) {
    const std::uint32_t last = save_running_ticker();
    std::uint32_t second_last = 0;
    {
        Console console;
        auto machine = Machine::restore(m_state, m_memory, console.sink(), false);
        ASSERT_TRUE(machine) << machine.error().message;
        RunningMachine running(std::move(*machine));
        ASSERT_TRUE(console.wait_for(ticker_line(last + 2))) << console.text();
        running.machine().pause();
        auto saved = running.machine().save_snapshot(m_state, m_memory);
        ASSERT_TRUE(saved) << saved.error().message;
        second_last = last_tick(console.text());
        running.machine().resume();
        EXPECT_TRUE(console.wait_for(ticker_line(second_last + 2))) << console.text();
    }
    Console console;
    auto machine = Machine::restore(m_state, m_memory, console.sink(), false);
    ASSERT_TRUE(machine) << machine.error().message;
    RunningMachine running(std::move(*machine));
    ASSERT_TRUE(console.wait_for(ticker_line(second_last + 2))) << console.text();
    EXPECT_TRUE(console.text().starts_with(ticker_line(second_last + 1))) << console.text();
}

/// The threads of this process (/proc/self/task).
std::size_t thread_count() {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/task"))
        ++count;
    return count;
}

// A restore starts its vCPU threads early (they wait while it loads): they run no guest code
// until start() (run()) hands them their vCPUs, and a machine discarded unstarted takes them
// with it.
TEST_F(MachineSnapshot, EarlyVcpuThreadsRunNothingBeforeStartAndEndWithAnUnstartedMachine) {
    const std::uint32_t last = save_running_ticker();
    const std::size_t threads_before = thread_count();
    Console console;
    {
        auto machine = Machine::restore(m_state, m_memory, console.sink(), false);
        ASSERT_TRUE(machine) << machine.error().message;
        EXPECT_GT(thread_count(), threads_before); // the waiting vCPU thread
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        EXPECT_EQ(console.text(), "") << "guest code ran before start()";
    }
    EXPECT_EQ(thread_count(), threads_before);
    auto machine = Machine::restore(m_state, m_memory, console.sink(), false);
    ASSERT_TRUE(machine) << machine.error().message;
    RunningMachine running(std::move(*machine));
    EXPECT_TRUE(console.wait_for(ticker_line(last + 1))) << console.text();
}

// A restore refused after its vCPU threads started (the memory file is checked after them,
// the devices after that) leaves no thread behind.
TEST_F(MachineSnapshot, RefusedRestoreLeavesNoThreadBehind) {
    save_running_ticker();
    const std::size_t threads_before = thread_count();
    std::filesystem::resize_file(m_memory, (32u << 20));
    Console console;
    auto machine = Machine::restore(m_state, m_memory, console.sink(), false);
    ASSERT_FALSE(machine);
    EXPECT_EQ(thread_count(), threads_before);
    EXPECT_EQ(console.text(), "");
}

TEST_F(MachineSnapshot, DamagedOrMismatchedFilesAreRefusedNamingFileAndProblem) {
    save_running_ticker();
    auto refuse = [&](const std::string& expected) {
        Console console;
        auto machine = Machine::restore(m_state, m_memory, console.sink(), false);
        ASSERT_FALSE(machine);
        EXPECT_NE(machine.error().message.find(expected), std::string::npos)
            << machine.error().message;
    };
    const auto state_size = std::filesystem::file_size(m_state);
    std::filesystem::copy_file(m_state, m_directory / "good.state");

    std::filesystem::resize_file(m_state, state_size - 9);
    refuse("snapshot " + m_state.string() + ": truncated");

    std::filesystem::copy_file(m_directory / "good.state", m_state,
                               std::filesystem::copy_options::overwrite_existing);
    {
        std::fstream file(m_state, std::ios::in | std::ios::out | std::ios::binary);
        file.seekg(static_cast<std::streamoff>(state_size / 2));
        const char byte = static_cast<char>(file.get() ^ 0xff);
        file.seekp(static_cast<std::streamoff>(state_size / 2));
        file.put(byte);
    }
    refuse("checksum mismatch");

    std::filesystem::copy_file(m_directory / "good.state", m_state,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(m_memory, (32u << 20));
    refuse("memory file " + m_memory.string() +
           ": 33554432 bytes, but the snapshot's VM has "
           "67108864 bytes of RAM");
    std::filesystem::remove(m_memory);
    refuse("memory file " + m_memory.string() + ": cannot open");
}

} // namespace
} // namespace vessel
