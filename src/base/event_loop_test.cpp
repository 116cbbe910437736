// EventLoop: handlers run on the loop thread, remove() waits for a running handler.
#include "base/event_loop.hpp"

#include <chrono>
#include <condition_variable>

#include <gtest/gtest.h>

using namespace vessel;
using namespace std::chrono_literals;

namespace {
/// Waits up to two seconds for predicate.
template <typename Predicate> bool eventually(Predicate predicate) {
    for (int attempt = 0; attempt < 2000 && !predicate(); ++attempt)
        std::this_thread::sleep_for(1ms);
    return predicate();
}
} // namespace

TEST(EventLoop, RunsHandlersOnItsThreadWhenTheFdIsReadable) {
    auto loop = EventLoop::create("test-loop").value();
    auto event = EventFd::create().value();
    std::atomic<int> calls{0};
    std::atomic<bool> other_thread{false};
    const auto test_thread = std::this_thread::get_id();
    const auto id = loop->add(event.fd(), [&] {
        event.consume();
        other_thread = std::this_thread::get_id() != test_thread;
        ++calls;
    });
    ASSERT_TRUE(id);
    EXPECT_EQ(calls.load(), 0);
    event.signal();
    ASSERT_TRUE(eventually([&] { return calls.load() == 1; }));
    event.signal();
    event.signal(); // two signals before the loop looks: one readable state, one call
    ASSERT_TRUE(eventually([&] { return calls.load() >= 2; }));
    EXPECT_TRUE(other_thread.load());
    EXPECT_GE(loop->dispatched(), 2u);
    loop->remove(*id);
    const int after_remove = calls.load();
    event.signal();
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(calls.load(), after_remove); // removed: never called again
}

TEST(EventLoop, RemoveWaitsForARunningHandler) {
    auto loop = EventLoop::create("test-loop").value();
    auto event = EventFd::create().value();
    std::mutex mutex;
    std::condition_variable changed;
    bool entered = false;
    std::atomic<bool> finished{false};
    const auto id = loop->add(event.fd(), [&] {
        event.consume();
        {
            std::lock_guard lock(mutex);
            entered = true;
        }
        changed.notify_all();
        std::this_thread::sleep_for(50ms);
        finished = true;
    });
    ASSERT_TRUE(id);
    event.signal();
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 2s, [&] { return entered; }));
    lock.unlock();
    loop->remove(*id);
    EXPECT_TRUE(finished.load()); // remove() returned only after the handler did
}

TEST(EventLoop, AHandlerMayRemoveItself) {
    auto loop = EventLoop::create("test-loop").value();
    auto event = EventFd::create().value();
    std::atomic<int> calls{0};
    EventLoop::Id id = 0;
    std::atomic<bool> registered{false};
    id = loop->add(event.fd(),
                   [&] {
                       while (!registered.load()) {
                       }
                       ++calls;
                       loop->remove(id); // would deadlock if remove() waited for itself
                   })
             .value();
    registered = true;
    event.signal();
    ASSERT_TRUE(eventually([&] { return calls.load() == 1; }));
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(calls.load(), 1); // fd still readable, but no longer watched
}

TEST(EventLoop, RejectsAnInvalidFd) {
    auto loop = EventLoop::create("test-loop").value();
    EXPECT_FALSE(loop->add(-1, [] {}));
}
