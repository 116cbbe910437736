// The snapshot memory file: sparse write, private lazy mapping.
#include "vm/snapshot/memory_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/unique_fd.hpp"

namespace vessel::snapshot {
namespace {

bool zero_page(const std::uint8_t* page) {
    static const std::uint8_t zeros[GuestMemory::page_size] = {};
    return std::memcmp(page, zeros, GuestMemory::page_size) == 0;
}

Result<void> write_all(int fd, const std::uint8_t* data, std::uint64_t length,
                       std::uint64_t offset) {
    while (length > 0) {
        const ssize_t written = ::pwrite(fd, data, std::min<std::uint64_t>(length, 1u << 30),
                                         static_cast<off_t>(offset));
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return make_error("{}", std::strerror(errno));
        data += written;
        length -= static_cast<std::uint64_t>(written);
        offset += static_cast<std::uint64_t>(written);
    }
    return {};
}

/// Writes the non-zero pages of guest RAM at their offsets into a new sparse file.
Result<std::uint64_t> write_pages(const GuestMemory& memory, const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid())
        return make_error("memory file {}: cannot create: {}", path, std::strerror(errno));
    if (::ftruncate(fd.get(), static_cast<off_t>(memory.size())) != 0)
        return make_error("memory file {}: cannot size it: {}", path, std::strerror(errno));
    const std::uint8_t* base = memory.host_base();
    const std::uint64_t pages = memory.size() / GuestMemory::page_size;
    std::uint64_t written = 0;
    for (std::uint64_t page = 0; page < pages;) {
        if (zero_page(base + page * GuestMemory::page_size)) {
            ++page;
            continue;
        }
        std::uint64_t end = page + 1;
        while (end < pages && !zero_page(base + end * GuestMemory::page_size))
            ++end;
        const std::uint64_t offset = page * GuestMemory::page_size;
        const std::uint64_t length = (end - page) * GuestMemory::page_size;
        TRY_CONTEXT(write_all(fd.get(), base + offset, length, offset),
                    fmt::format("memory file {}: cannot write", path));
        written += length;
        page = end;
    }
    if (::fsync(fd.get()) != 0)
        return make_error("memory file {}: cannot write: {}", path, std::strerror(errno));
    return written;
}

} // namespace

Result<std::uint64_t> write_memory_file(const GuestMemory& memory, const std::string& path) {
    // A new file renamed over the old one: a VM restored from `path` keeps its mapping of the
    // old file (truncating that in place would pull pages from under it), and a crash never
    // leaves half a memory file under the real name.
    const std::string temporary = path + ".tmp";
    auto written = write_pages(memory, temporary);
    if (written && ::rename(temporary.c_str(), path.c_str()) != 0)
        written = make_error("memory file {}: cannot write: {}", path, std::strerror(errno));
    if (!written) ::unlink(temporary.c_str());
    return written;
}

Result<GuestMemory> map_memory_file(const std::string& path, std::uint64_t size) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
        return make_error("memory file {}: cannot open: {}", path, std::strerror(errno));
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode))
        return make_error("memory file {}: not a regular file", path);
    if (static_cast<std::uint64_t>(info.st_size) != size)
        return make_error("memory file {}: {} bytes, but the snapshot's VM has {} bytes of RAM "
                          "(a memory file of another snapshot?)",
                          path, info.st_size, size);
    return TRY_CONTEXT(GuestMemory::map_file(fd.get(), size), fmt::format("memory file {}", path));
}

} // namespace vessel::snapshot
