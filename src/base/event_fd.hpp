// EventFd: a non-blocking eventfd used to wake a poll loop from another thread.
#pragma once

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace vessel {

/// A counter file descriptor: signal() from any thread makes fd() readable until consume().
class EventFd {
  public:
    /// Creates a non-blocking, close-on-exec eventfd.
    static Result<EventFd> create();

    EventFd() = default;

    int fd() const { return m_fd.get(); }
    /// Makes fd() readable (adds one to the counter).
    void signal() const;
    /// Resets the counter; returns whether it had been signalled.
    bool consume() const;

  private:
    explicit EventFd(UniqueFd fd) : m_fd(std::move(fd)) {}

    UniqueFd m_fd;
};

} // namespace vessel
