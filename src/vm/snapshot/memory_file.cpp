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

/// Writes the pages set in `dirty` at their offsets into a new sparse file.
Result<std::uint64_t> write_dirty_pages(const GuestMemory& memory,
                                        const std::vector<std::uint64_t>& dirty,
                                        const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid())
        return make_error("memory file {}: cannot create: {}", path, std::strerror(errno));
    if (::ftruncate(fd.get(), static_cast<off_t>(memory.size())) != 0)
        return make_error("memory file {}: cannot size it: {}", path, std::strerror(errno));
    struct stat info {};
    if (::fstat(fd.get(), &info) == 0 &&
        info.st_blksize > static_cast<blksize_t>(GuestMemory::page_size))
        return make_error("memory file {}: the file system's {}-byte blocks cannot keep a Diff's "
                          "4 KiB pages apart from its holes; write it to another file system",
                          path, info.st_blksize);
    const std::uint8_t* base = memory.host_base();
    const std::uint64_t pages = memory.size() / GuestMemory::page_size;
    auto is_dirty = [&](std::uint64_t page) {
        return page < pages && page / 64 < dirty.size() && ((dirty[page / 64] >> (page % 64)) & 1);
    };
    std::uint64_t written = 0;
    for (std::uint64_t page = 0; page < pages;) {
        if (!is_dirty(page)) {
            ++page;
            continue;
        }
        std::uint64_t end = page + 1;
        while (is_dirty(end))
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

/// Copies [offset, offset+length) of `from` into `to` at the same offset.
Result<void> copy_range(int from, int to, std::uint64_t offset, std::uint64_t length) {
    std::vector<std::uint8_t> buffer(1u << 20);
    while (length > 0) {
        const std::size_t chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(length, buffer.size()));
        const ssize_t got = ::pread(from, buffer.data(), chunk, static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            return make_error("read: {}", got < 0 ? std::strerror(errno) : "file ended early");
        TRY(write_all(to, buffer.data(), static_cast<std::uint64_t>(got), offset));
        offset += static_cast<std::uint64_t>(got);
        length -= static_cast<std::uint64_t>(got);
    }
    return {};
}

/// Copies the data ranges of `from` (holes stay holes) into `to`; returns the bytes copied.
Result<std::uint64_t> copy_data_ranges(int from, int to, std::uint64_t size) {
    std::uint64_t copied = 0;
    off_t position = 0;
    while (static_cast<std::uint64_t>(position) < size) {
        const off_t data = ::lseek(from, position, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) break; // only a hole is left
            return make_error("SEEK_DATA: {}", std::strerror(errno));
        }
        off_t hole = ::lseek(from, data, SEEK_HOLE);
        if (hole < 0) return make_error("SEEK_HOLE: {}", std::strerror(errno));
        if (static_cast<std::uint64_t>(hole) > size) hole = static_cast<off_t>(size);
        TRY(copy_range(from, to, static_cast<std::uint64_t>(data),
                       static_cast<std::uint64_t>(hole - data)));
        copied += static_cast<std::uint64_t>(hole - data);
        position = hole;
    }
    return copied;
}

Result<UniqueFd> open_sized(const std::string& path, std::uint64_t* size) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
        return make_error("memory file {}: cannot open: {}", path, std::strerror(errno));
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode))
        return make_error("memory file {}: not a regular file", path);
    *size = static_cast<std::uint64_t>(info.st_size);
    return fd;
}

} // namespace

Result<std::uint64_t> write_diff_memory_file(const GuestMemory& memory,
                                             const std::vector<std::uint64_t>& dirty,
                                             const std::string& path) {
    const std::string temporary = path + ".tmp";
    auto written = write_dirty_pages(memory, dirty, temporary);
    if (written && ::rename(temporary.c_str(), path.c_str()) != 0)
        written = make_error("memory file {}: cannot write: {}", path, std::strerror(errno));
    if (!written) ::unlink(temporary.c_str());
    return written;
}

Result<std::uint64_t> merge_diff_memory_file(const std::string& diff_path,
                                             const std::string& base_path) {
    std::uint64_t diff_size = 0, base_size = 0;
    UniqueFd diff = TRY(open_sized(diff_path, &diff_size));
    UniqueFd base = TRY(open_sized(base_path, &base_size));
    if (diff_size != base_size)
        return make_error("memory file {}: {} bytes, but the base {} has {} (a Diff of another "
                          "VM?)",
                          diff_path, diff_size, base_path, base_size);
    const std::string temporary = base_path + ".tmp";
    UniqueFd merged(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!merged.valid())
        return make_error("memory file {}: cannot create: {}", temporary, std::strerror(errno));
    auto result = [&]() -> Result<std::uint64_t> {
        if (::ftruncate(merged.get(), static_cast<off_t>(base_size)) != 0)
            return make_error("memory file {}: cannot size it: {}", temporary,
                              std::strerror(errno));
        TRY_CONTEXT(copy_data_ranges(base.get(), merged.get(), base_size),
                    fmt::format("memory file {}", base_path));
        const std::uint64_t bytes =
            TRY_CONTEXT(copy_data_ranges(diff.get(), merged.get(), diff_size),
                        fmt::format("memory file {}", diff_path));
        if (::fsync(merged.get()) != 0 || ::rename(temporary.c_str(), base_path.c_str()) != 0)
            return make_error("memory file {}: cannot write: {}", base_path, std::strerror(errno));
        return bytes;
    }();
    if (!result) ::unlink(temporary.c_str());
    return result;
}

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
