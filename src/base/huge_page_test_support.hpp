// Test support: whether the host kernel may back a mapping with transparent huge pages.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

namespace vessel::test {

/// Whether the host's THP mode lets madvise(MADV_HUGEPAGE) take effect ("always" or "madvise").
inline bool host_offers_huge_pages() {
    std::ifstream mode("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string text;
    std::getline(mode, text);
    return text.find("[always]") != std::string::npos ||
           text.find("[madvise]") != std::string::npos;
}

/// The "THPeligible" field of /proc/self/smaps for the mapping holding `address`, or nullopt
/// when no mapping holds it (or the kernel does not report the field).
inline std::optional<bool> huge_page_eligible(const void* address) {
    const auto where = reinterpret_cast<std::uintptr_t>(address);
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        unsigned long start = 0, end = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx ", &start, &end) == 2 &&
            line.find(':') > line.find(' ')) {
            inside = where >= start && where < end;
            continue;
        }
        int eligible = 0;
        if (inside && std::sscanf(line.c_str(), "THPeligible: %d", &eligible) == 1)
            return eligible != 0;
    }
    return std::nullopt;
}

} // namespace vessel::test
