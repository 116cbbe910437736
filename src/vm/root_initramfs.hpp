// Vessel's root initramfs: the default guest's busybox initramfs, which mounts root= itself.
#pragma once

#include <string>

#include "base/result.hpp"

namespace vessel {

/// The default guest's initramfs (guest/ next to the vessel binary, built by `make guest`). Its
/// /init loads the virtio modules of the default kernel, mounts root= and switch_roots to the
/// root file system's init, so a root drive boots on a kernel whose virtio_blk is a module
/// (Debian's), with no initrd of the user's. An error says it is not built.
Result<std::string> root_initramfs_path();

/// Gives a machine with a root drive and no initrd that initramfs; returns whether it did. A
/// missing initramfs is only a warning: a kernel with virtio_blk built in boots without it.
bool use_root_initramfs(std::string& initrd_path);

} // namespace vessel
