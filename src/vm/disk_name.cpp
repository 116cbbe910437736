// Default virtio disk names, numbered as Linux's virtio_blk numbers its disks.
#include "vm/disk_name.hpp"

#include <algorithm>

namespace vessel {

std::string default_disk_name(std::size_t index) {
    // Bijective base 26 (Linux drivers/block/virtio_blk.c, virtblk_name_format): after "z"
    // comes "aa", not "ba", so each position's digit is taken with one subtracted from the rest.
    constexpr std::size_t letters = 26;
    std::string suffix;
    std::size_t rest = index + 1;
    while (rest > 0) {
        --rest;
        suffix += static_cast<char>('a' + rest % letters);
        rest /= letters;
    }
    std::reverse(suffix.begin(), suffix.end());
    return "vd" + suffix;
}

} // namespace vessel
