// Whole-file reads with human errors.
#include "base/file_contents.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

#include "base/unique_fd.hpp"

namespace vessel {

namespace {
Result<UniqueFd> open_regular_file(const std::string& path, struct stat& info) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return make_error("{}: cannot open: {}", path, std::strerror(errno));
    if (::fstat(fd.get(), &info) != 0)
        return make_error("{}: cannot stat: {}", path, std::strerror(errno));
    if (!S_ISREG(info.st_mode)) return make_error("{}: not a regular file", path);
    return fd;
}

Result<std::vector<std::uint8_t>> read_up_to(const std::string& path, const UniqueFd& fd,
                                             std::size_t size) {
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
} // namespace

Result<void> check_readable_file(const std::string& path) {
    struct stat info {};
    TRY(open_regular_file(path, info));
    return {};
}

Result<std::vector<std::uint8_t>> read_file_head(const std::string& path, std::size_t count) {
    struct stat info {};
    UniqueFd fd = TRY(open_regular_file(path, info));
    return read_up_to(path, fd, std::min(count, static_cast<std::size_t>(info.st_size)));
}

Result<std::vector<std::uint8_t>> read_file_contents(const std::string& path,
                                                     std::size_t max_size) {
    struct stat info {};
    UniqueFd fd = TRY(open_regular_file(path, info));
    auto size = static_cast<std::size_t>(info.st_size);
    if (size > max_size)
        return make_error("{}: file is {} bytes, larger than the limit of {}", path, size,
                          max_size);
    return read_up_to(path, fd, size);
}

} // namespace vessel
