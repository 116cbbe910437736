// EarlyVcpuThreads: start, spin-then-futex wait, hand-over, dismissal.
#include "vm/early_vcpu_threads.hpp"

#include <immintrin.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <system_error>

#include "base/thread_role.hpp"

namespace vessel {

EarlyVcpuThreads::EarlyVcpuThreads(std::uint32_t count, std::chrono::nanoseconds spin,
                                   std::uint32_t spinners) {
    m_slots.reserve(count);
    for (std::uint32_t index = 0; index < count; ++index) {
        auto slot = std::make_shared<Slot>();
        const auto spin_of_this = index < spinners ? spin : std::chrono::nanoseconds{0};
        // The thread holds the slot too: handed over, it runs the job from it after this
        // object is gone; dismissed, it is joined before the slot goes. Either way the slot's
        // std::thread is empty by the time the last holder lets go.
        try {
            slot->thread = std::thread([slot, spin_of_this] {
                enter_thread_role(ThreadRole::Vcpu); // its seccomp filter, before any guest code
                wait_and_run(*slot, spin_of_this);
            });
        } catch (const std::system_error&) {
            // No thread now (a thread limit): the vCPUs without one get theirs when they
            // start, as without early threads, and that creation reports the error.
            break;
        }
        m_slots.push_back(std::move(slot));
    }
}

EarlyVcpuThreads::~EarlyVcpuThreads() {
    for (auto& slot : m_slots) {
        if (!slot->thread.joinable()) continue; // handed over: its new owner joins it
        slot->state.store(dismissed, std::memory_order_release);
        slot->state.notify_one();
        slot->thread.join();
    }
}

bool EarlyVcpuThreads::available(std::uint32_t index) const {
    return index < m_slots.size() && m_slots[index]->thread.joinable();
}

std::thread EarlyVcpuThreads::hand_over(std::uint32_t index, std::function<void()> job) {
    Slot& slot = *m_slots.at(index);
    slot.job = std::move(job);
    slot.state.store(go, std::memory_order_release);
    slot.state.notify_one();
    return std::move(slot.thread);
}

std::uint32_t EarlyVcpuThreads::spinners_for_this_host() {
    // "0.52 0.61 0.70 2/345 6789": the fourth field is runnable/total, this thread included.
    // Plain read(2): an ifstream's first use costs more than the whole thread start.
    const int descriptor = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (descriptor < 0) return 0;
    std::array<char, 128> text{};
    const ssize_t length = ::read(descriptor, text.data(), text.size() - 1);
    ::close(descriptor);
    unsigned running = 0;
    if (length <= 0 || std::sscanf(text.data(), "%*s %*s %*s %u/", &running) != 1) return 0;
    const unsigned cpus = std::thread::hardware_concurrency();
    return running + 1 < cpus ? cpus - running - 1 : 0;
}

void EarlyVcpuThreads::wait_and_run(Slot& slot, std::chrono::nanoseconds spin) {
    // Longer than 64 pauses take when the thread keeps its CPU (a few microseconds).
    constexpr std::chrono::microseconds preempted{200};
    auto last = std::chrono::steady_clock::now();
    const auto spin_end = last + spin;
    bool spinning = spin.count() > 0;
    std::uint32_t state = slot.state.load(std::memory_order_acquire);
    // The clock is read every 64 rounds: a pause is some tens of nanoseconds.
    for (unsigned round = 1; state == waiting; ++round) {
        if (!spinning) {
            slot.state.wait(waiting, std::memory_order_acquire); // a futex, until woken
        } else if (round % 64 == 0) {
            const auto now = std::chrono::steady_clock::now();
            spinning = now < spin_end && now - last < preempted;
            last = now;
        } else {
            _mm_pause();
        }
        state = slot.state.load(std::memory_order_acquire);
    }
    if (state == go) slot.job();
}

} // namespace vessel
