// LogRateLimiter: per-source windows, the summary of what was left out, and the log front's use
// of it (a warning in a loop writes a bounded number of lines).
#include "base/log_rate_limiter.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "base/log.hpp"

namespace vessel::log {
namespace {

constexpr std::uint64_t second = 1'000'000'000;

TEST(LogRateLimiter, WritesTheFirstLinesOfAWindowThenSummarizesTheRest) {
    LogRateLimiter limiter(3);
    for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(limiter.admit("virtqueue {}: {}", 10 + i).write) << i;
    for (int i = 0; i < 5; ++i)
        EXPECT_FALSE(limiter.admit("virtqueue {}: {}", 100 + i).write) << i;
    // Still in the window: nothing to report yet.
    EXPECT_TRUE(limiter.admit("other {}", second / 2).summaries.empty());
    // The next line after the window: written, with one summary of the five before it.
    auto next = limiter.admit("virtqueue {}: {}", second + 10);
    EXPECT_TRUE(next.write);
    ASSERT_EQ(next.summaries.size(), 1u);
    EXPECT_EQ(next.summaries[0].source, "virtqueue {}: {}");
    EXPECT_EQ(next.summaries[0].count, 5u);
    EXPECT_EQ(suppressed_line(next.summaries[0], 3),
              "suppressed 5 lines like \"virtqueue {}: {}\" (more than 3 a second)");
    EXPECT_TRUE(limiter.admit("virtqueue {}: {}", second + 20).summaries.empty());
}

TEST(LogRateLimiter, SourcesAreCountedApart) {
    LogRateLimiter limiter(2);
    EXPECT_TRUE(limiter.admit("a", 0).write);
    EXPECT_TRUE(limiter.admit("a", 1).write);
    EXPECT_FALSE(limiter.admit("a", 2).write);
    EXPECT_TRUE(limiter.admit("b", 3).write);
    EXPECT_TRUE(limiter.admit("b", 4).write);
    EXPECT_FALSE(limiter.admit("b", 5).write);
}

TEST(LogRateLimiter, AnEndedWindowIsReportedAtAnotherSourcesLine) {
    LogRateLimiter limiter(1);
    EXPECT_TRUE(limiter.admit("flood", 0).write);
    EXPECT_FALSE(limiter.admit("flood", 1).write);
    EXPECT_FALSE(limiter.admit("flood", 2).write);
    auto later = limiter.admit("quiet", 2 * second);
    EXPECT_TRUE(later.write);
    ASSERT_EQ(later.summaries.size(), 1u);
    EXPECT_EQ(later.summaries[0].source, "flood");
    EXPECT_EQ(later.summaries[0].count, 2u);
}

TEST(LogRateLimiter, DrainReportsOpenWindowsOnce) {
    LogRateLimiter limiter(1);
    (void)limiter.admit("x", 0);
    (void)limiter.admit("x", 1);
    auto drained = limiter.drain();
    ASSERT_EQ(drained.size(), 1u);
    EXPECT_EQ(drained[0].count, 1u);
    EXPECT_TRUE(limiter.drain().empty());
    EXPECT_TRUE(limiter.admit("x", 2 * second).summaries.empty());
}

TEST(LogRateLimiter, ManySourcesStayBounded) {
    LogRateLimiter limiter(1);
    for (std::size_t i = 0; i < LogRateLimiter::max_sources + 10; ++i)
        EXPECT_TRUE(limiter.admit(std::to_string(i), 0).write);
    // A full table of busy windows leaves a new source unlimited rather than growing.
    EXPECT_TRUE(limiter.admit("new", 1).write);
    EXPECT_TRUE(limiter.admit("new", 2).write);
    // Once their windows ended, old sources make room again.
    EXPECT_TRUE(limiter.admit("new", 2 * second).write);
    EXPECT_FALSE(limiter.admit("new", 2 * second + 1).write);
}

/// Collects the default logger's lines.
class LineSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::vector<std::string> lines;

  protected:
    void sink_it_(const spdlog::details::log_msg& message) override {
        lines.emplace_back(message.payload.data(), message.payload.size());
    }
    void flush_() override {}
};

TEST(LogRateLimiter, AWarningInALoopWritesBoundedLines) {
    auto previous = spdlog::default_logger();
    auto sink = std::make_shared<LineSink>();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    spdlog::default_logger()->set_level(spdlog::level::trace);
    for (int i = 0; i < 1000; ++i)
        warn("rate-limit test: guest wrote {} to a bad register", i);
    for (int i = 0; i < 30; ++i)
        debug("rate-limit test: debug {}", i); // debug lines are not limited
    report_suppressed();
    spdlog::set_default_logger(previous);
    std::size_t warnings = 0, debugs = 0, summaries = 0;
    for (const auto& line : sink->lines) {
        if (line.starts_with("rate-limit test: guest wrote")) ++warnings;
        if (line.starts_with("rate-limit test: debug")) ++debugs;
        if (line.starts_with("suppressed ") && line.find("rate-limit test: guest wrote {} to a "
                                                         "bad register") != std::string::npos)
            ++summaries;
    }
    // The loop runs well within two seconds: at most two windows' worth of lines.
    EXPECT_GE(warnings, LogRateLimiter::default_lines_per_second);
    EXPECT_LE(warnings, 2 * LogRateLimiter::default_lines_per_second);
    EXPECT_EQ(debugs, 30u);
    EXPECT_GE(summaries, 1u);
    EXPECT_LE(summaries, 2u);
}

} // namespace
} // namespace vessel::log
