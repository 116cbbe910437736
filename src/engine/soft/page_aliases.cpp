// PageAliases: the windows' reservation and their slots' mappings.
#include "engine/soft/page_aliases.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace vessel::soft {

Result<PageAliases> PageAliases::create(int ram_file) {
    if (ram_file < 0) return make_error("page aliases need guest RAM in a file");
    auto windows = TRY_CONTEXT(MappedRegion::reserved(ways * window_size), "page alias windows");
    return PageAliases(std::move(windows), ram_file);
}

bool PageAliases::map(unsigned way, unsigned slot, std::uint64_t file_offset) {
    void* at = base(way) + (std::uint64_t{slot} << 12);
    ++m_remaps;
    m_moved_at[way][slot] = m_fills;
    void* mapped = ::mmap(at, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m_file,
                          static_cast<off_t>(file_offset));
    if (mapped == MAP_FAILED) {
        // MAP_FIXED may have unmapped the old page already: put the reservation back.
        ::mmap(at, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        m_offsets[way][slot] = no_page;
        return false;
    }
    m_offsets[way][slot] = file_offset;
    return true;
}

} // namespace vessel::soft
