// Result<T> and TRY: error values that say what failed and with which input.
#pragma once

#include <expected>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace vessel {

/// A failure description meant for humans: what failed and with which input.
struct Error {
    std::string message;
};

/// The return type of every fallible operation in Vessel.
template <typename T> using Result = std::expected<T, Error>;

/// Builds an error value from a fmt format string.
template <typename... Args>
std::unexpected<Error> make_error(fmt::format_string<Args...> format, Args&&... args) {
    return std::unexpected(Error{fmt::format(format, std::forward<Args>(args)...)});
}

/// Prefixes an error with context ("bzImage kernel.img: " + inner message).
inline Error with_context(std::string_view context, Error inner) {
    return Error{fmt::format("{}: {}", context, inner.message)};
}

} // namespace vessel

/// Evaluates a Result; on error returns it from the enclosing function, else yields the value.
#define TRY(expression)                                                                            \
    ({                                                                                             \
        auto&& try_result_ = (expression);                                                         \
        if (!try_result_) return std::unexpected(std::move(try_result_).error());                  \
        std::move(try_result_).value();                                                            \
    })

/// Like TRY, but prefixes the error message with a context string.
#define TRY_CONTEXT(expression, context)                                                           \
    ({                                                                                             \
        auto&& try_result_ = (expression);                                                         \
        if (!try_result_)                                                                          \
            return std::unexpected(                                                                \
                ::vessel::with_context((context), std::move(try_result_).error()));                \
        std::move(try_result_).value();                                                            \
    })
