// HostForward: one user-networking port forward, "tcp:127.0.0.1:2222-:22" as in QEMU's hostfwd.
#include "backends/net/host_forward.hpp"

#include <arpa/inet.h>
#include <charconv>

namespace vessel {

namespace {

Result<in_addr> parse_address(std::string_view text, std::string_view what) {
    in_addr address{};
    if (text.empty()) return address; // INADDR_ANY
    const std::string copy(text);
    if (::inet_pton(AF_INET, copy.c_str(), &address) != 1)
        return make_error("{} '{}' is not an IPv4 address", what, text);
    return address;
}

Result<std::uint16_t> parse_port(std::string_view text, std::string_view what) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value == 0 ||
        value > 65535)
        return make_error("{} '{}' is not a port number (1-65535)", what, text);
    return static_cast<std::uint16_t>(value);
}

/// Splits "addr:port" at its last ':'.
Result<std::pair<std::string_view, std::string_view>> split_endpoint(std::string_view text,
                                                                     std::string_view what) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return make_error("{} '{}' must be [address]:port", what, text);
    return std::pair{text.substr(0, colon), text.substr(colon + 1)};
}

Result<HostForward> parse_fields(std::string_view text) {
    HostForward forward;
    const auto first_colon = text.find(':');
    if (first_colon == std::string_view::npos)
        return make_error("expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport");
    const std::string_view protocol = text.substr(0, first_colon);
    if (protocol == "udp")
        forward.protocol = HostForward::Protocol::udp;
    else if (protocol != "tcp" && !protocol.empty())
        return make_error("protocol '{}' must be tcp or udp", protocol);

    const std::string_view rest = text.substr(first_colon + 1);
    const auto dash = rest.find('-');
    if (dash == std::string_view::npos)
        return make_error("missing '-' between the host and the guest side");
    auto [host_address, host_port] = TRY(split_endpoint(rest.substr(0, dash), "host side"));
    auto [guest_address, guest_port] = TRY(split_endpoint(rest.substr(dash + 1), "guest side"));
    forward.host_address = TRY(parse_address(host_address, "host address"));
    forward.host_port = TRY(parse_port(host_port, "host port"));
    forward.guest_address = TRY(parse_address(guest_address, "guest address"));
    forward.guest_port = TRY(parse_port(guest_port, "guest port"));
    return forward;
}

std::string address_text(in_addr address) {
    char buffer[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &address, buffer, sizeof(buffer));
    return buffer;
}

} // namespace

Result<HostForward> HostForward::parse(std::string_view text) {
    return TRY_CONTEXT(parse_fields(text), fmt::format("hostfwd '{}'", text));
}

std::string HostForward::to_string() const {
    return fmt::format("{}:{}:{}-{}:{}", protocol == Protocol::udp ? "udp" : "tcp",
                       address_text(host_address), host_port,
                       guest_address.s_addr == INADDR_ANY ? "" : address_text(guest_address),
                       guest_port);
}

} // namespace vessel
