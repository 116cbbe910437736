// LogRateLimiter: one-second windows per log call site, with a summary of what was left out.
#include "base/log_rate_limiter.hpp"

#include <fmt/format.h>

namespace vessel::log {

namespace {
constexpr std::uint64_t window_ns = 1'000'000'000;
}

void LogRateLimiter::collect_ended(std::uint64_t now_ns, std::vector<Suppressed>& summaries) {
    if (m_pending == 0) return;
    for (auto& [source, window] : m_windows) {
        if (window.suppressed == 0 || now_ns - window.start_ns < window_ns) continue;
        summaries.push_back({source, window.suppressed});
        window.suppressed = 0;
        --m_pending;
    }
}

LogRateLimiter::Decision LogRateLimiter::admit(std::string_view source, std::uint64_t now_ns) {
    std::lock_guard lock(m_mutex);
    Decision decision;
    collect_ended(now_ns, decision.summaries);
    auto found = m_windows.find(std::string(source));
    if (found == m_windows.end()) {
        if (m_windows.size() >= max_sources)
            std::erase_if(m_windows, [&](const auto& entry) {
                return entry.second.suppressed == 0 && now_ns - entry.second.start_ns >= window_ns;
            });
        if (m_windows.size() >= max_sources) return decision; // every source busy: not limited
        found = m_windows.emplace(std::string(source), Window{now_ns, 0, 0}).first;
    }
    Window& window = found->second;
    if (now_ns - window.start_ns >= window_ns) {
        window.start_ns = now_ns;
        window.written = 0;
    }
    if (window.written < m_lines_per_second) {
        ++window.written;
        return decision;
    }
    if (window.suppressed++ == 0) ++m_pending;
    decision.write = false;
    return decision;
}

std::vector<LogRateLimiter::Suppressed> LogRateLimiter::drain() {
    std::lock_guard lock(m_mutex);
    std::vector<Suppressed> summaries;
    for (auto& [source, window] : m_windows) {
        if (window.suppressed == 0) continue;
        summaries.push_back({source, window.suppressed});
        window.suppressed = 0;
    }
    m_pending = 0;
    return summaries;
}

std::string suppressed_line(const LogRateLimiter::Suppressed& summary,
                            std::uint32_t lines_per_second) {
    return fmt::format("suppressed {} line{} like \"{}\" (more than {} a second)", summary.count,
                       summary.count == 1 ? "" : "s", summary.source, lines_per_second);
}

} // namespace vessel::log
