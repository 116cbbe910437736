// Kernel loading: format detection (Multiboot header first, then the Linux setup header).
#include "vm/kernel_loading.hpp"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
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

// Enough for both headers: Multiboot's within 8 KiB, Linux's setup header within 1 KiB.
constexpr std::size_t kernel_head_bytes = 16 * 1024;

std::string mebibytes(std::uint64_t bytes) {
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

Result<std::uint64_t> file_size(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        return make_error("{}: cannot stat: {}", path, std::strerror(errno));
    return static_cast<std::uint64_t>(info.st_size);
}

// Everything that can be judged from the headers and the sizes, before a byte more is read: a
// multi-gigabyte file that is no kernel, or that could never fit, costs a page, not its size.
Result<void> check_kernel_and_initrd_sizes(const MachineConfig& config) {
    auto head = TRY(read_file_head(config.kernel_path, kernel_head_bytes));
    if (head.empty()) return make_error("{}: kernel file is empty", config.kernel_path);
    if (!x86::has_multiboot_header(head) && !has_linux_setup_header(head))
        return make_error("{}: not a kernel Vessel can boot (no Multiboot v1 header in the first "
                          "8 KiB and no Linux setup header at 0x202)",
                          config.kernel_path);
    const std::uint64_t kernel_size = TRY(file_size(config.kernel_path));
    if (kernel_size > config.memory_size)
        return make_error("{}: the kernel file is {}, larger than guest RAM ({})",
                          config.kernel_path, mebibytes(kernel_size),
                          mebibytes(config.memory_size));
    if (config.initrd_path.empty()) return {};
    const std::uint64_t initrd_size = TRY(file_size(config.initrd_path));
    if (initrd_size > config.memory_size)
        return make_error("initrd {}: {} does not fit in guest RAM ({})", config.initrd_path,
                          mebibytes(initrd_size), mebibytes(config.memory_size));
    return {};
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
    TRY(check_kernel_and_initrd_sizes(config));
    // Both sizes are now at most guest RAM; the limits also hold if a file grew meanwhile.
    auto kernel = TRY(read_file_contents(config.kernel_path, config.memory_size));
    std::vector<std::uint8_t> initrd;
    if (!config.initrd_path.empty())
        initrd = TRY(read_file_contents(config.initrd_path, config.memory_size));
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
