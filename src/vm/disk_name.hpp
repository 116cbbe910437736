// The name (and serial) a virtio disk gets when its config gives no id: vda, vdb, ... as Linux
// names the same disks.
#pragma once

#include <cstddef>
#include <string>

namespace vessel {

/// "vd" + the disk's letters as Linux's virtio_blk numbers disks (virtblk_name_format): index 0
/// is vda, 25 vdz, 26 vdaa, 51 vdaz, 52 vdba, 701 vdzz, 702 vdaaa. Never wraps.
std::string default_disk_name(std::size_t index);

} // namespace vessel
