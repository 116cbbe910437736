// Kernel loading: format detection (Multiboot header first, then the Linux setup header).
#include "vm/kernel_loading.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <vector>

#include "arch/x86/bzimage_loader.hpp"
#include "arch/x86/multiboot_loader.hpp"
#include "base/file_contents.hpp"

namespace vessel {

namespace {
// Linux boot protocol: "HdrS" at offset 0x202 of the setup header (boot.rst).
bool has_linux_setup_header(std::span<const std::uint8_t> image) {
    return image.size() >= 0x206 && std::memcmp(image.data() + 0x202, "HdrS", 4) == 0;
}
} // namespace

// Without a command line Linux would print to a VGA console this machine does not have, so an
// empty one becomes the chosen console: what a user of `vessel run --kernel` expects to see.
std::string_view linux_console_arguments(ConsoleChoice console) {
    if (console == ConsoleChoice::Virtio) return "console=hvc0 earlycon=uart8250,io,0x3f8";
    return "console=ttyS0";
}

Result<void> check_input_files(const MachineConfig& config) {
    if (config.kernel_path.empty()) return make_error("no kernel given (use --kernel FILE)");
    TRY(check_readable_file(config.kernel_path));
    if (!config.initrd_path.empty()) TRY(check_readable_file(config.initrd_path));
    for (const DiskConfig& disk : config.disks) {
        // The block back-end opens the image later with its own mode and checks its kind.
        if (::access(disk.path.c_str(), disk.read_only ? R_OK : R_OK | W_OK) != 0)
            return make_error("disk {}: {}", disk.path, std::strerror(errno));
    }
    return {};
}

Result<x86::CpuState> load_kernel(GuestMemory& memory, const MachineConfig& config) {
    if (config.kernel_path.empty()) return make_error("no kernel given (use --kernel FILE)");
    auto kernel = TRY(read_file_contents(config.kernel_path));
    std::vector<std::uint8_t> initrd;
    if (!config.initrd_path.empty()) initrd = TRY(read_file_contents(config.initrd_path));
    if (kernel.empty()) return make_error("{}: kernel file is empty", config.kernel_path);
    if (x86::has_multiboot_header(kernel)) {
        std::vector<x86::BootModule> modules;
        if (!config.initrd_path.empty()) modules.push_back({config.initrd_path, initrd});
        return x86::load_multiboot(memory, kernel, config.kernel_path, config.command_line,
                                   modules);
    }
    if (has_linux_setup_header(kernel))
        return x86::load_bzimage(memory, kernel, config.kernel_path,
                                 config.command_line.empty()
                                     ? std::string(linux_console_arguments(config.console))
                                     : config.command_line,
                                 initrd, config.initrd_path);
    return make_error("{}: not a kernel Vessel can boot (no Multiboot v1 header in the first "
                      "8 KiB and no Linux setup header at 0x202)",
                      config.kernel_path);
}

} // namespace vessel
