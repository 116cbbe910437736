// Parsing of `--vsock [CID:]PATH` for `vessel run`.
#include "cli/vsock_option.hpp"

#include <charconv>
#include <cstdint>

namespace vessel {

Result<VsockConfig> parse_vsock_option(std::string_view text) {
    VsockConfig config;
    std::string_view path = text;
    const std::size_t colon = text.find(':');
    if (colon != std::string_view::npos) {
        const std::string_view cid = text.substr(0, colon);
        const bool digits =
            !cid.empty() && cid.find_first_not_of("0123456789") == std::string_view::npos;
        if (digits) {
            auto [end, error] =
                std::from_chars(cid.data(), cid.data() + cid.size(), config.guest_cid);
            if (error != std::errc{} || end != cid.data() + cid.size() ||
                config.guest_cid > UINT32_MAX)
                return make_error("--vsock {}: guest CID '{}' is too large", text, cid);
            path = text.substr(colon + 1);
        }
    }
    if (config.guest_cid < 3)
        return make_error("--vsock {}: guest CID {} is reserved (use 3 or more)", text,
                          config.guest_cid);
    if (path.empty()) return make_error("--vsock {}: missing the host socket path", text);
    config.uds_path = std::string(path);
    return config;
}

} // namespace vessel
