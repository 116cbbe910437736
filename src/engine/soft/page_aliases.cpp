// PageAliases: the windows' reservation and their slots' mappings.
#include "engine/soft/page_aliases.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace vessel::soft {

Result<PageAliases> PageAliases::create(int ram_file) {
    if (ram_file < 0) return make_error("page aliases need guest RAM in a file");
    auto window = TRY_CONTEXT(MappedRegion::reserved(window_size), "page alias window");
    return PageAliases(std::move(window), ram_file);
}

void PageAliases::release(std::uint32_t position) {
    ::mmap(base() + (std::uint64_t{position} << 12), 4096, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

bool PageAliases::map(unsigned way, std::uint64_t linear, std::uint64_t file_offset) {
    const unsigned slot = slot_of(linear);
    const std::uint32_t position = position_of(linear);
    ++m_remaps;
    m_moved_at[way][slot] = m_fills;
    if (m_offsets[way][slot] != no_page && m_positions[way][slot] != position)
        release(m_positions[way][slot]); // MAP_FIXED replaces: no gap another mmap could take
    m_offsets[way][slot] = no_page;
    void* at = base() + (std::uint64_t{position} << 12);
    void* mapped = ::mmap(at, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m_file,
                          static_cast<off_t>(file_offset));
    if (mapped == MAP_FAILED) {
        release(position); // MAP_FIXED may have unmapped the old page already
        return false;
    }
    m_offsets[way][slot] = file_offset;
    m_positions[way][slot] = position;
    return true;
}

} // namespace vessel::soft
