// MonotonicClock: an injectable nanosecond clock, so timer devices can be tested deterministically.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace vessel {

/// Returns nanoseconds on a monotonic time line (any origin). Tests pass a fake.
using MonotonicClock = std::function<std::uint64_t()>;

/// The host's monotonic clock (CLOCK_MONOTONIC through std::chrono::steady_clock).
inline std::uint64_t steady_clock_ns() {
    const auto since_epoch = std::chrono::steady_clock::now().time_since_epoch();
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count());
}

} // namespace vessel
