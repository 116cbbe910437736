// Page sharing through KSM: madvise on guest RAM, host state checks, counters.
#include "vm/page_sharing.hpp"

#include <atomic>
#include <fstream>
#include <string>

#include "base/log.hpp"

namespace vessel {

namespace {
constexpr const char* ksm_directory = "/sys/kernel/mm/ksm/";

std::optional<std::uint64_t> read_number(const std::string& path) {
    std::ifstream file(path);
    std::uint64_t value = 0;
    if (!(file >> value)) return std::nullopt;
    return value;
}

/// A "name value" line of /proc/self/ksm_stat.
std::optional<std::uint64_t> read_ksm_stat(const std::string& name) {
    std::ifstream file("/proc/self/ksm_stat");
    std::string key;
    std::string value;
    while (file >> key >> value) {
        if (key != name) continue;
        try {
            return std::stoull(value);
        } catch (...) {
            return std::nullopt;
        }
    }
    return std::nullopt;
}
} // namespace

KsmCounters read_ksm_counters() {
    KsmCounters counters;
    const auto run = read_number(std::string(ksm_directory) + "run");
    counters.available = run.has_value();
    counters.running = run.value_or(0) == 1;
    auto field = [](const char* name) {
        return read_number(std::string(ksm_directory) + name).value_or(0);
    };
    counters.pages_shared = field("pages_shared");
    counters.pages_sharing = field("pages_sharing");
    counters.pages_unshared = field("pages_unshared");
    counters.full_scans = field("full_scans");
    counters.process_merging_pages = read_ksm_stat("ksm_merging_pages");
    return counters;
}

Result<void> enable_page_sharing(GuestMemory& memory) {
    TRY(memory.enable_page_sharing());
    static std::atomic<bool> warned{false};
    const KsmCounters ksm = read_ksm_counters();
    if (ksm.running || warned.exchange(true)) return {};
    if (!ksm.available)
        log::warn("page sharing: the host kernel has no KSM (/sys/kernel/mm/ksm is missing): "
                  "guest pages will not be shared");
    else
        log::warn("page sharing: KSM is switched off on this host (/sys/kernel/mm/ksm/run is "
                  "0): guest pages are marked mergeable but nothing merges them until root "
                  "runs 'echo 1 > /sys/kernel/mm/ksm/run'");
    return {};
}

} // namespace vessel
