// Vessel's root initramfs: the default guest's busybox initramfs, which mounts root= itself.
#include "vm/root_initramfs.hpp"

#include <filesystem>

#include "base/log.hpp"

namespace vessel {

Result<std::string> root_initramfs_path() {
    std::error_code error;
    auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) return make_error("cannot locate the vessel binary: {}", error.message());
    auto initramfs = executable.parent_path() / "guest" / "initramfs.cpio.gz";
    if (!std::filesystem::exists(initramfs, error))
        return make_error("Vessel's initramfs {} is not built (run `make guest`)",
                          initramfs.string());
    return initramfs.string();
}

bool use_root_initramfs(std::string& initrd_path) {
    if (!initrd_path.empty()) return false;
    auto initramfs = root_initramfs_path();
    if (!initramfs) {
        log::warn("root drive without an initrd: {}; the kernel must mount the root itself",
                  initramfs.error().message);
        return false;
    }
    log::info("root drive without an initrd: booting through Vessel's initramfs {}, which "
              "mounts the root drive and starts its init",
              *initramfs);
    initrd_path = *initramfs;
    return true;
}

} // namespace vessel
