// HostForward: one user-networking port forward, "tcp:127.0.0.1:2222-:22" as in QEMU's hostfwd.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <netinet/in.h>

#include "base/result.hpp"

namespace vessel {

/// A host port whose connections (or datagrams) are forwarded to a port of the guest.
struct HostForward {
    enum class Protocol { tcp, udp };

    Protocol protocol{Protocol::tcp};
    in_addr host_address{}; ///< INADDR_ANY when the text leaves it empty (as QEMU does)
    std::uint16_t host_port{0};
    in_addr guest_address{}; ///< INADDR_ANY here means "the guest's DHCP address"
    std::uint16_t guest_port{0};

    /// Parses "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport" (an empty protocol is tcp).
    static Result<HostForward> parse(std::string_view text);

    std::string to_string() const;
};

} // namespace vessel
