// EarlyVcpuThreads: vCPU threads started while a restore is still loading, each waiting for the
// vCPU loop it will run, so that the restored guest's first instruction does not wait for a
// thread to be created, install its seccomp filter and be scheduled.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace vessel {

/// `count` threads, started at once (fewer when the host refuses one: size() says how many,
/// and available() is false for the rest). Each takes up the vCPU role (enter_thread_role: its
/// seccomp filter and name) and then waits, running nothing, until hand_over() gives it its
/// job or the object goes (the threads not handed a job then end, and are joined).
///
/// Waiting is a spin on the thread's own flag for at most `spin` (a wake-up from a futex can
/// take a millisecond on a nested host, as a new thread's first run can), then a futex wait.
/// The spin lasts no longer than the restore it overlaps (hand_over() or the destructor ends
/// it), and stops early when the thread finds it was preempted: the host is busy, and the
/// CPU is better left to the restore.
class EarlyVcpuThreads {
  public:
    /// How long a waiting thread spins before it sleeps: longer than a restore on a busy host.
    static constexpr std::chrono::milliseconds default_spin{20};
    /// How many waiting threads may spin: the host's idle CPUs (/proc/loadavg's running count,
    /// this thread included, below the online CPUs) less one, which is left to the client and
    /// the kernel's work around the restore; 0 when unknown. On a busy host a spinning thread
    /// takes CPU time from the restore, and once preempted it waits longer for a CPU than a
    /// thread woken from a futex does. Measured on a quiet 2-core host (bench/snapshot.sh, 40
    /// restores, three alternating pairs): one spinning thread, first instruction median
    /// 2.6-2.7 ms and p90 5.8-6.6 ms; none, median 2.2-2.4 ms and p90 2.9-4.0 ms.
    static std::uint32_t spinners_for_this_host();

    /// Only the first `spinners` threads spin (thread 0 is the boot vCPU's); the rest sleep in
    /// the futex at once: more spinners than idle CPUs preempt the restore they wait for.
    explicit EarlyVcpuThreads(std::uint32_t count, std::chrono::nanoseconds spin = default_spin,
                              std::uint32_t spinners = UINT32_MAX);
    /// Dismisses the threads that were not handed a job and joins them.
    ~EarlyVcpuThreads();
    EarlyVcpuThreads(const EarlyVcpuThreads&) = delete;
    EarlyVcpuThreads& operator=(const EarlyVcpuThreads&) = delete;

    std::uint32_t size() const { return static_cast<std::uint32_t>(m_slots.size()); }
    /// Whether thread `index` is still waiting for a job (not yet handed one).
    bool available(std::uint32_t index) const;
    /// Gives thread `index` (available) its job, wakes it, and returns the thread, which the
    /// caller joins: it ends when the job returns.
    std::thread hand_over(std::uint32_t index, std::function<void()> job);

  private:
    enum State : std::uint32_t { waiting = 0, go = 1, dismissed = 2 };
    struct Slot {
        std::atomic<std::uint32_t> state{waiting};
        std::function<void()> job; ///< written before state becomes `go`
        std::thread thread;
    };
    static void wait_and_run(Slot& slot, std::chrono::nanoseconds spin);

    /// Shared with the slot's thread: a thread handed its job runs it from the slot after this
    /// object (which start() drops once every thread is handed over) has gone.
    std::vector<std::shared_ptr<Slot>> m_slots;
};

} // namespace vessel
