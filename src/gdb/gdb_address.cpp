// GdbAddress parsing.
#include "gdb/gdb_address.hpp"

#include <charconv>

#include <fmt/format.h>

namespace vessel::gdb {

std::string GdbAddress::to_string() const {
    return kind == Kind::Tcp ? fmt::format("tcp:{}:{}", host, port) : fmt::format("unix:{}", path);
}

Result<GdbAddress> parse_gdb_address(std::string_view text) {
    GdbAddress address;
    if (text.starts_with("unix:")) {
        address.kind = GdbAddress::Kind::Unix;
        address.path = std::string(text.substr(5));
        if (address.path.empty())
            return make_error("--gdb '{}': the Unix socket path is empty", text);
        if (address.path.size() > 107)
            return make_error("--gdb '{}': a Unix socket path is at most 107 bytes", text);
        return address;
    }
    if (!text.starts_with("tcp:"))
        return make_error("--gdb '{}': expected tcp:HOST:PORT or unix:PATH", text);
    const std::string_view rest = text.substr(4);
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos)
        return make_error("--gdb '{}': expected tcp:HOST:PORT (the port is missing)", text);
    address.host = std::string(rest.substr(0, colon));
    if (address.host.empty()) address.host = "127.0.0.1";
    const std::string_view port_text = rest.substr(colon + 1);
    unsigned port = 0;
    const auto [end, status] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (status != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
        return make_error("--gdb '{}': port '{}' is not 1-65535", text, port_text);
    address.port = static_cast<std::uint16_t>(port);
    return address;
}

} // namespace vessel::gdb
