// EarlyVcpuThreads: nothing runs before hand_over(); a handed job runs once on a thread that
// took up the vCPU role; threads never handed a job end when the object goes; both waits (the
// spin and the futex) deliver.
#include "vm/early_vcpu_threads.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include <time.h>

#include <gtest/gtest.h>

#include "base/thread_role.hpp"

namespace vessel {
namespace {

using namespace std::chrono_literals;

// What the role hook saw: which threads entered which role.
std::mutex roles_mutex;
std::set<std::thread::id> vcpu_role_threads;
std::atomic<int> roles_entered{0};

void record_role(ThreadRole role) {
    std::lock_guard lock(roles_mutex);
    if (role == ThreadRole::Vcpu) vcpu_role_threads.insert(std::this_thread::get_id());
    roles_entered.fetch_add(1);
}

class EarlyVcpuThreadsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        {
            std::lock_guard lock(roles_mutex);
            vcpu_role_threads.clear();
        }
        roles_entered = 0;
        set_thread_role_hook(record_role);
    }
    void TearDown() override { set_thread_role_hook(nullptr); }

    static bool wait_until(const std::function<bool()>& done) {
        for (int i = 0; i < 2000 && !done(); ++i)
            std::this_thread::sleep_for(1ms);
        return done();
    }
};

TEST_F(EarlyVcpuThreadsTest, NothingRunsUntilHandedAndUnhandedThreadsEndWithTheObject) {
    std::atomic<int> ran{0};
    {
        EarlyVcpuThreads threads(3, 0ns);
        EXPECT_EQ(threads.size(), 3u);
        // Every thread takes up the vCPU role (its seccomp filter) before waiting.
        ASSERT_TRUE(wait_until([] { return roles_entered.load() == 3; }));
        std::this_thread::sleep_for(20ms);
        EXPECT_EQ(ran.load(), 0);
        for (std::uint32_t index = 0; index < 3; ++index)
            EXPECT_TRUE(threads.available(index));
        EXPECT_FALSE(threads.available(3));
    } // dismissed and joined: a hang here fails the test by timeout
    EXPECT_EQ(ran.load(), 0);
}

TEST_F(EarlyVcpuThreadsTest, HandedJobRunsOnceOnAVcpuRoleThreadWithTheFutexWait) {
    std::atomic<int> ran{0};
    std::thread::id job_thread;
    std::thread handed;
    {
        EarlyVcpuThreads threads(2, 0ns);
        ASSERT_TRUE(wait_until([] { return roles_entered.load() == 2; }));
        handed = threads.hand_over(1, [&] {
            job_thread = std::this_thread::get_id();
            ran.fetch_add(1);
        });
        EXPECT_FALSE(threads.available(1));
        EXPECT_TRUE(threads.available(0));
    } // thread 0 is dismissed; thread 1 belongs to `handed`
    ASSERT_TRUE(handed.joinable());
    handed.join();
    EXPECT_EQ(ran.load(), 1);
    std::lock_guard lock(roles_mutex);
    EXPECT_EQ(vcpu_role_threads.count(job_thread), 1u);
    EXPECT_NE(job_thread, std::this_thread::get_id());
}

TEST_F(EarlyVcpuThreadsTest, SpinningThreadsTakeTheirJobsAndTheObjectMayGoFirst) {
    std::atomic<int> ran{0};
    std::vector<std::thread> handed;
    {
        EarlyVcpuThreads threads(2, 2s); // spins the whole test long
        for (std::uint32_t index = 0; index < 2; ++index)
            handed.push_back(threads.hand_over(index, [&ran] {
                std::this_thread::sleep_for(10ms); // still running when the object has gone
                ran.fetch_add(1);
            }));
    }
    for (auto& thread : handed)
        thread.join();
    EXPECT_EQ(ran.load(), 2);
}

TEST_F(EarlyVcpuThreadsTest, ASpinThatOutlastsItsLimitFallsBackToTheFutex) {
    std::atomic<int> ran{0};
    EarlyVcpuThreads threads(1, 1ms);
    std::this_thread::sleep_for(30ms); // the spin is over: the thread sleeps in the futex
    std::thread handed = threads.hand_over(0, [&ran] { ran.fetch_add(1); });
    handed.join();
    EXPECT_EQ(ran.load(), 1);
}

TEST_F(EarlyVcpuThreadsTest, ThreadsBeyondTheSpinnersSleepAtOnce) {
    const auto process_cpu = [] {
        timespec now{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
        return std::chrono::seconds{now.tv_sec} + std::chrono::nanoseconds{now.tv_nsec};
    };
    std::atomic<int> ran{0};
    EarlyVcpuThreads threads(2, 2s, 0); // a spin of 2 s, but no thread may spin
    std::this_thread::sleep_for(10ms);  // both are in their futex wait by now
    const auto before = process_cpu();
    std::this_thread::sleep_for(100ms);
    // Spinning threads would have used up to 200 ms of CPU time in the window.
    EXPECT_LT(process_cpu() - before, 30ms);
    for (std::uint32_t index = 0; index < 2; ++index) {
        std::thread handed = threads.hand_over(index, [&ran] { ran.fetch_add(1); });
        handed.join();
    }
    EXPECT_EQ(ran.load(), 2);
}

TEST_F(EarlyVcpuThreadsTest, SpinnersForThisHostLeaveACpu) {
    EXPECT_LT(EarlyVcpuThreads::spinners_for_this_host() + 1,
              std::max(2u, std::thread::hardware_concurrency()));
}

} // namespace
} // namespace vessel
