// EventLoop: epoll registration and the dispatch thread.
#include "base/event_loop.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <pthread.h>
#include <sys/epoll.h>

#include "base/log.hpp"
#include "base/thread_role.hpp"

namespace vessel {

namespace {
constexpr EventLoop::Id wake_id = 0;
constexpr int events_per_wait = 16;
} // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create(const std::string& thread_name) {
    std::unique_ptr<EventLoop> loop(new EventLoop());
    loop->m_epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!loop->m_epoll.valid()) return make_error("epoll_create1: {}", std::strerror(errno));
    loop->m_wake = TRY(EventFd::create());
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = wake_id;
    if (::epoll_ctl(loop->m_epoll.get(), EPOLL_CTL_ADD, loop->m_wake.fd(), &event) < 0)
        return make_error("epoll_ctl: {}", std::strerror(errno));
    loop->m_thread = std::thread([raw = loop.get()] {
        enter_thread_role(ThreadRole::Io);
        raw->run();
    });
    ::pthread_setname_np(loop->m_thread.native_handle(), thread_name.substr(0, 15).c_str());
    return loop;
}

EventLoop::~EventLoop() {
    m_stopping.store(true);
    m_wake.signal();
    if (m_thread.joinable()) m_thread.join();
}

Result<EventLoop::Id> EventLoop::add(int fd, Handler handler) {
    std::lock_guard lock(m_mutex);
    const Id id = m_next_id++;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id; // an id, not a pointer: an event read before remove() finds nothing
    m_handlers.emplace(id, std::pair{fd, std::move(handler)});
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd, &event) < 0) {
        m_handlers.erase(id);
        return make_error("epoll_ctl add fd {}: {}", fd, std::strerror(errno));
    }
    return id;
}

void EventLoop::remove(Id id) {
    // Off the loop thread, wait for a handler that may be running right now.
    std::unique_lock<std::mutex> dispatch;
    if (std::this_thread::get_id() != m_thread.get_id())
        dispatch = std::unique_lock(m_dispatch_mutex);
    std::lock_guard lock(m_mutex);
    auto found = m_handlers.find(id);
    if (found == m_handlers.end()) return;
    ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, found->second.first, nullptr);
    m_handlers.erase(found);
}

void EventLoop::run() {
    std::array<epoll_event, events_per_wait> events{};
    while (!m_stopping.load()) {
        const int count = ::epoll_wait(m_epoll.get(), events.data(), events_per_wait, -1);
        if (count < 0) {
            if (errno == EINTR) continue;
            log::error("event loop: epoll_wait: {}", std::strerror(errno));
            return;
        }
        std::lock_guard dispatch(m_dispatch_mutex);
        for (int index = 0; index < count; ++index) {
            const Id id = events[index].data.u64;
            if (id == wake_id) {
                m_wake.consume();
                continue;
            }
            Handler handler;
            {
                std::lock_guard lock(m_mutex);
                auto found = m_handlers.find(id);
                if (found == m_handlers.end()) continue; // removed since epoll_wait returned
                handler = found->second.second;
            }
            m_dispatched.fetch_add(1, std::memory_order_relaxed);
            handler();
        }
    }
}

} // namespace vessel
