// HostMemory: /proc/meminfo parsing and the guest-RAM-versus-host rules.
#include "memory/host_memory.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

#include "base/log.hpp"

namespace vessel {

namespace {
constexpr std::uint64_t mib = std::uint64_t{1} << 20;
constexpr std::uint64_t gib = std::uint64_t{1} << 30;
constexpr const char* meminfo_path = "/proc/meminfo";

/// The kB value of the line "NAME:   VALUE kB", or nothing.
std::optional<std::uint64_t> meminfo_field(std::string_view meminfo, std::string_view name) {
    std::size_t at = 0;
    while (at < meminfo.size()) {
        std::size_t end = meminfo.find('\n', at);
        if (end == std::string_view::npos) end = meminfo.size();
        std::string_view line = meminfo.substr(at, end - at);
        at = end + 1;
        if (!line.starts_with(name) || line.size() <= name.size() || line[name.size()] != ':')
            continue;
        line.remove_prefix(name.size() + 1);
        while (!line.empty() && line.front() == ' ')
            line.remove_prefix(1);
        std::uint64_t kilobytes = 0;
        auto [next, error] = std::from_chars(line.data(), line.data() + line.size(), kilobytes);
        if (error != std::errc() || kilobytes > (UINT64_MAX >> 10)) return std::nullopt;
        return kilobytes << 10;
    }
    return std::nullopt;
}
} // namespace

Result<HostMemory> HostMemory::parse(std::string_view meminfo) {
    auto total = meminfo_field(meminfo, "MemTotal");
    if (!total) return make_error("{}: no MemTotal line", meminfo_path);
    // MemAvailable exists since Linux 3.14; without it, count only free memory.
    auto available = meminfo_field(meminfo, "MemAvailable");
    if (!available) available = meminfo_field(meminfo, "MemFree");
    return HostMemory{*total, available.value_or(*total)};
}

Result<HostMemory> HostMemory::read() {
    std::ifstream file(meminfo_path);
    if (!file) return make_error("{}: cannot open", meminfo_path);
    std::stringstream text;
    text << file.rdbuf();
    return parse(text.str());
}

std::string describe_memory_size(std::uint64_t bytes) {
    if (bytes >= gib && bytes % gib == 0) return fmt::format("{} GiB", bytes / gib);
    if (bytes >= gib) return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / gib);
    if (bytes % mib == 0) return fmt::format("{} MiB", bytes / mib);
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / mib);
}

Result<void> check_guest_memory_fits(std::uint64_t guest_bytes, const HostMemory& host) {
    if (guest_bytes <= host.total_bytes) return {};
    return make_error("guest RAM of {} is larger than this host's physical memory of {}",
                      describe_memory_size(guest_bytes), describe_memory_size(host.total_bytes));
}

std::optional<std::string> guest_memory_warning(std::uint64_t guest_bytes, const HostMemory& host) {
    if (guest_bytes <= host.available_bytes) return std::nullopt;
    return fmt::format("guest RAM of {} is more than the {} this host has available now: the "
                       "host may swap, or kill Vessel, if the guest uses it all",
                       describe_memory_size(guest_bytes),
                       describe_memory_size(host.available_bytes));
}

Result<void> check_guest_memory_on_host(std::uint64_t guest_bytes) {
    auto host = HostMemory::read();
    if (!host) {
        log::debug("guest RAM not checked against the host: {}", host.error().message);
        return {};
    }
    return check_guest_memory_fits(guest_bytes, *host);
}

void warn_about_guest_memory(std::uint64_t guest_bytes) {
    auto host = HostMemory::read();
    if (!host) return;
    if (auto warning = guest_memory_warning(guest_bytes, *host)) log::warn("{}", *warning);
}

} // namespace vessel
