// thread_cpu_milliseconds: the calling thread's CPU time, for accounts of one operation's cost.
#pragma once

#include <time.h>

namespace vessel {

/// CPU time this thread has used, in milliseconds: unlike the wall clock, it does not count the
/// time another process held the CPU, so it shows an operation's own cost on a busy host.
inline double thread_cpu_milliseconds() {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

} // namespace vessel
