// Saturating narrowing of an integer lane result (SSE/MMX packs, saturating adds and subtracts).
#pragma once

#include <cstdint>
#include <limits>

namespace vessel::soft {

/// `value` clamped to the range of lane type E.
template <typename E> E saturate(std::int64_t value) {
    if (value > static_cast<std::int64_t>(std::numeric_limits<E>::max()))
        return std::numeric_limits<E>::max();
    if (value < static_cast<std::int64_t>(std::numeric_limits<E>::min()))
        return std::numeric_limits<E>::min();
    return static_cast<E>(value);
}

} // namespace vessel::soft
