// EventFd: a non-blocking eventfd used to wake a poll loop from another thread.
#include "base/event_fd.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>

namespace vessel {

Result<EventFd> EventFd::create() {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd.valid()) return make_error("eventfd: {}", std::strerror(errno));
    return EventFd(std::move(fd));
}

void EventFd::signal() const {
    const std::uint64_t one = 1;
    // A full counter (EAGAIN) already means "readable", so a failed write loses nothing.
    [[maybe_unused]] const auto written = ::write(m_fd.get(), &one, sizeof(one));
}

bool EventFd::consume() const {
    std::uint64_t count = 0;
    return ::read(m_fd.get(), &count, sizeof(count)) == static_cast<ssize_t>(sizeof(count));
}

} // namespace vessel
