// Parsing of `--disk PATH[,readonly][,root]`.
#include "cli/disk_option.hpp"

namespace vessel {

Result<DiskConfig> parse_disk_option(std::string_view text) {
    DiskConfig disk;
    const auto comma = text.find(',');
    disk.path = std::string(text.substr(0, comma));
    if (disk.path.empty()) return make_error("--disk '{}': no image path", text);
    std::string_view rest = comma == std::string_view::npos ? "" : text.substr(comma + 1);
    while (comma != std::string_view::npos) {
        const auto next = rest.find(',');
        const std::string_view option = rest.substr(0, next);
        if (option == "readonly" || option == "ro")
            disk.read_only = true;
        else if (option == "root")
            disk.root = true;
        else
            return make_error("--disk '{}': unknown option '{}' (known: readonly, root)", text,
                              option);
        if (next == std::string_view::npos) break;
        rest = rest.substr(next + 1);
    }
    return disk;
}

} // namespace vessel
