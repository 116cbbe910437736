// lock_image: QEMU-style OFD locks on disk images (shared for readers, exclusive for a writer).
#pragma once

#include <string>

#include "base/result.hpp"

namespace vessel {

/// Takes an open-file-description lock on the whole image behind `fd`: a read (shared) lock
/// when `read_only`, a write (exclusive) lock otherwise. OFD locks belong to the open file, not
/// to the process, so two opens of one image in the same Vessel conflict just as two processes
/// (or a QEMU) do. The lock lives until the last duplicate of `fd` is closed. A conflict is an
/// error naming `path` and saying another user holds the image.
Result<void> lock_image(int fd, const std::string& path, bool read_only);
/// Drops the lock lock_image took on `fd` (live migration hands the image to another Vessel).
void unlock_image(int fd);

} // namespace vessel
