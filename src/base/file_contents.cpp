// Whole-file reads with human errors.
#include "base/file_contents.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

#include "base/unique_fd.hpp"

namespace vessel {

Result<void> check_readable_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return make_error("{}: cannot open: {}", path, std::strerror(errno));
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0)
        return make_error("{}: cannot stat: {}", path, std::strerror(errno));
    if (!S_ISREG(info.st_mode)) return make_error("{}: not a regular file", path);
    return {};
}

Result<std::vector<std::uint8_t>> read_file_contents(const std::string& path,
                                                     std::size_t max_size) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return make_error("{}: cannot open: {}", path, std::strerror(errno));
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0)
        return make_error("{}: cannot stat: {}", path, std::strerror(errno));
    if (!S_ISREG(info.st_mode)) return make_error("{}: not a regular file", path);
    auto size = static_cast<std::size_t>(info.st_size);
    if (size > max_size)
        return make_error("{}: file is {} bytes, larger than the limit of {}", path, size,
                          max_size);
    std::vector<std::uint8_t> contents(size);
    std::size_t done = 0;
    while (done < size) {
        ssize_t got = ::read(fd.get(), contents.data() + done, size - done);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return make_error("{}: read failed: {}", path, std::strerror(errno));
        if (got == 0) break;
        done += static_cast<std::size_t>(got);
    }
    contents.resize(done);
    return contents;
}

} // namespace vessel
