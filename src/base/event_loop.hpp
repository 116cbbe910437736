// EventLoop: one host thread waiting on file descriptors (epoll) and running their handlers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/event_fd.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace vessel {

/// A thread that calls a handler whenever one of its file descriptors is readable
/// (level-triggered: the handler drains its fd). The KVM engine runs its ioeventfd doorbells
/// here, so device work that a guest write starts leaves the vCPU thread.
class EventLoop {
  public:
    using Handler = std::function<void()>;
    using Id = std::uint64_t;

    /// Starts the thread (named for top/gdb, at most 15 characters).
    static Result<std::unique_ptr<EventLoop>> create(const std::string& thread_name);
    /// Stops and joins the thread; every registration must be removed by then.
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /// Watches fd (which stays owned by the caller) until remove(id). Any thread.
    Result<Id> add(int fd, Handler handler);
    /// Stops watching; when it returns the handler is not running and never runs again (from
    /// the loop thread itself, e.g. inside a handler, it just stops watching). Any thread.
    void remove(Id id);
    /// Handler calls so far.
    std::uint64_t dispatched() const { return m_dispatched.load(std::memory_order_relaxed); }

  private:
    EventLoop() = default;
    void run();

    UniqueFd m_epoll;
    EventFd m_wake; ///< makes epoll_wait return for the destructor
    std::atomic<bool> m_stopping{false};
    std::mutex m_mutex; ///< m_handlers and m_next_id
    /// Held while handlers run, so remove() can wait for a running one.
    std::mutex m_dispatch_mutex;
    std::map<Id, std::pair<int, Handler>> m_handlers;
    Id m_next_id{1}; ///< 0 marks m_wake
    std::atomic<std::uint64_t> m_dispatched{0};
    std::thread m_thread;
};

} // namespace vessel
