// Parsing of `--balloon SPEC` for `vessel run`.
#include "cli/balloon_option.hpp"

#include <charconv>

#include "cli/size_option.hpp"

namespace vessel {

namespace {
constexpr std::uint32_t max_stats_interval = 65535; // Firecracker's u16

Result<std::uint32_t> parse_interval(std::string_view text, std::string_view spec) {
    std::uint32_t seconds = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (error != std::errc{} || end != text.data() + text.size() || seconds == 0 ||
        seconds > max_stats_interval)
        return make_error("--balloon {}: stats interval '{}' must be 1 to {} seconds", spec, text,
                          max_stats_interval);
    return seconds;
}
} // namespace

Result<std::optional<BalloonConfig>> parse_balloon_option(std::string_view text,
                                                          std::uint64_t memory_size) {
    if (text == "none") return std::nullopt;
    BalloonConfig config;
    config.free_page_reporting = true;
    std::string_view rest = text;
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (item == "deflate-on-oom") {
            config.deflate_on_oom = true;
        } else if (item == "reporting") {
            config.free_page_reporting = true;
        } else if (item == "no-reporting") {
            config.free_page_reporting = false;
        } else if (item.starts_with("stats=")) {
            config.stats_interval_s = TRY(parse_interval(item.substr(6), text));
        } else if (!item.empty() && item.front() >= '0' && item.front() <= '9') {
            auto size = parse_memory_size(item);
            if (!size) return make_error("--balloon {}: {}", text, size.error().message);
            if (*size > memory_size)
                return make_error("--balloon {}: target {} MiB is larger than guest memory "
                                  "({} MiB)",
                                  text, *size >> 20, memory_size >> 20);
            config.target_mib = static_cast<std::uint32_t>(*size >> 20);
        } else {
            return make_error("--balloon {}: unknown item '{}' (expected a size, "
                              "deflate-on-oom, stats=SECONDS, reporting, no-reporting or none)",
                              text, item);
        }
    }
    return config;
}

} // namespace vessel
