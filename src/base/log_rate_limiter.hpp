// LogRateLimiter: at most so many log lines a second from one place in the code, so a guest (or
// an API client) that triggers a warning in a loop cannot flood the log.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vessel::log {

/// Counts lines per source (a log call's format string) in one-second windows: the first
/// `lines_per_second` of a window are written, the rest counted; the count is reported once,
/// as one summary line, when that source's window has ended (at its next line, at any later line
/// from elsewhere, or at drain()).
class LogRateLimiter {
  public:
    static constexpr std::uint32_t default_lines_per_second = 20;
    /// Sources kept at most; a full table forgets the sources whose window has ended.
    static constexpr std::size_t max_sources = 1024;

    explicit LogRateLimiter(std::uint32_t lines_per_second = default_lines_per_second)
        : m_lines_per_second(lines_per_second) {}

    /// One source's lines left out in a window that has ended.
    struct Suppressed {
        std::string source; ///< the format string of the call
        std::uint64_t count;
    };
    struct Decision {
        bool write{true};                  ///< whether this line is written
        std::vector<Suppressed> summaries; ///< to report before it (ended windows with drops)
    };

    /// Decides for one line of `source` at `now_ns` (any monotonic origin).
    Decision admit(std::string_view source, std::uint64_t now_ns);
    /// The summaries of every source that dropped lines, windows ended or not (at exit).
    std::vector<Suppressed> drain();
    std::uint32_t lines_per_second() const { return m_lines_per_second; }

  private:
    struct Window {
        std::uint64_t start_ns{0};
        std::uint32_t written{0};
        std::uint64_t suppressed{0};
    };
    /// Moves the drop counts of windows ended by `now_ns` into `summaries`.
    void collect_ended(std::uint64_t now_ns, std::vector<Suppressed>& summaries);

    std::uint32_t m_lines_per_second;
    std::mutex m_mutex;
    std::unordered_map<std::string, Window> m_windows;
    std::uint64_t m_pending{0}; ///< sources with a non-zero suppressed count
};

/// Writes the "suppressed K lines like ..." summary of every call site whose lines the rate
/// limit held back and not yet reported (log.hpp's formatted info, warning and error lines: at
/// most default_lines_per_second a second from one call site). Also runs at exit.
void report_suppressed();

/// Summary line text: "suppressed K lines like "FORMAT" (more than N a second)".
std::string suppressed_line(const LogRateLimiter::Suppressed& summary,
                            std::uint32_t lines_per_second);

} // namespace vessel::log
