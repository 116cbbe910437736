// NetworkConfig: the `--net` option ("user[,hostfwd=..][,mac=..]", "tap=NAME[,mac=..]", "none").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/net/host_forward.hpp"
#include "backends/net/mac_address.hpp"
#include "backends/net/net_backend.hpp"
#include "base/result.hpp"

namespace vessel {

/// Which back-end a virtio-net device gets, and its guest MAC address.
struct NetworkConfig {
    enum class Kind { none, user, tap };

    Kind kind{Kind::user};
    std::vector<HostForward> host_forwards; ///< user only
    std::string tap_name;                   ///< tap only
    MacAddress mac{MacAddress::default_guest()};

    /// Parses one `--net` value.
    static Result<NetworkConfig> parse(std::string_view text);
};

/// Starts the back-end a config names (nullptr for Kind::none).
Result<std::unique_ptr<NetBackend>> create_net_backend(const NetworkConfig& config);

} // namespace vessel
