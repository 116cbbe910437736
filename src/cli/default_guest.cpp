// The default guest's location and command line.
#include "cli/default_guest.hpp"

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "arch/x86/bzimage_loader.hpp"
#include "base/file_contents.hpp"
#include "vm/kernel_loading.hpp"

namespace vessel {

std::string base64_encode(std::string_view bytes) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        std::uint32_t group = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) |
                              std::uint8_t(bytes[i + 2]);
        for (int shift = 18; shift >= 0; shift -= 6)
            out += alphabet[(group >> shift) & 63];
    }
    std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        std::uint32_t group = std::uint8_t(bytes[i]) << 16;
        if (rest == 2) group |= std::uint8_t(bytes[i + 1]) << 8;
        out += alphabet[(group >> 18) & 63];
        out += alphabet[(group >> 12) & 63];
        out += rest == 2 ? alphabet[(group >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

namespace {
// --exec travels base64-encoded on the kernel command line, which the kernel caps (cmdline_size):
// say so in terms of --exec rather than leave the kernel loader's message about its command line.
Result<void> check_exec_fits(const std::string& kernel_path, std::size_t prefix_bytes,
                             std::size_t command_bytes, std::size_t command_line_bytes) {
    auto header = TRY(read_file_head(kernel_path, x86::linux_boot::setup_header_limit));
    const std::uint64_t limit = TRY_CONTEXT(x86::bzimage_command_line_limit(header),
                                            fmt::format("bzImage {}", kernel_path));
    if (command_line_bytes <= limit) return {};
    // base64 turns each started 3 bytes into 4.
    const std::uint64_t room = limit > prefix_bytes ? (limit - prefix_bytes) / 4 * 3 : 0;
    return make_error("--exec: the command of {} bytes is too long: it goes on the default "
                      "guest's kernel command line in base64, which makes that line {} bytes, "
                      "and the kernel takes at most {} (room for a command of {} bytes)",
                      command_bytes, command_line_bytes, limit, room);
}
} // namespace

Result<void> use_default_guest(MachineConfig& config, const std::string& exec_command,
                               bool piped_input) {
    std::error_code error;
    auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) return make_error("cannot locate the vessel binary: {}", error.message());
    auto directory = executable.parent_path() / "guest";
    auto kernel = directory / "vmlinuz";
    auto initrd = directory / "initramfs.cpio.gz";
    if (!std::filesystem::exists(kernel) || !std::filesystem::exists(initrd))
        return make_error("the default guest is not built ({} missing): run `make guest`, or "
                          "name a kernel with --kernel FILE",
                          kernel.string());
    config.kernel_path = kernel.string();
    config.initrd_path = initrd.string();
    // quiet first: it must already hold when earlycon registers and replays the early log.
    std::string command_line =
        fmt::format("{} {}", default_guest_command_line, linux_console_arguments(config.console));
    if (!config.command_line.empty()) command_line += " " + config.command_line;
    if (!exec_command.empty()) {
        if (piped_input) command_line += " vessel.input=pipe";
        const std::string prefix = command_line + " vessel.exec=";
        command_line = prefix + base64_encode(exec_command);
        TRY(check_exec_fits(kernel.string(), prefix.size(), exec_command.size(),
                            command_line.size()));
    }
    config.command_line = command_line;
    return {};
}

} // namespace vessel
