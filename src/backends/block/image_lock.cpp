// lock_image: QEMU-style OFD locks on disk images (shared for readers, exclusive for a writer).
#include "backends/block/image_lock.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"

namespace vessel {

Result<void> lock_image(int fd, const std::string& path, bool read_only) {
    struct flock lock {};
    lock.l_type = read_only ? F_RDLCK : F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0; // the whole file, however it grows
    if (fcntl(fd, F_OFD_SETLK, &lock) == 0) return {};
    if (errno == EAGAIN || errno == EACCES)
        return make_error("disk {}: the image is locked: another user holds it {} (another "
                          "--disk or drive of this VM, another Vessel, or a QEMU); {}",
                          path, read_only ? "read-write" : "open",
                          read_only ? "read-only use needs no writer"
                                    : "read-write use needs it alone");
    // A file system without locks (some network mounts): go on, as QEMU does with a warning.
    if (errno == ENOLCK || errno == EINVAL || errno == EOPNOTSUPP) {
        log::warn("disk {}: the file system does not support locks ({}); the image is unlocked",
                  path, std::strerror(errno));
        return {};
    }
    return make_error("disk {}: cannot lock the image: {}", path, std::strerror(errno));
}

void unlock_image(int fd) {
    struct flock lock {};
    lock.l_type = F_UNLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;
    ::fcntl(fd, F_OFD_SETLK, &lock);
}

} // namespace vessel
