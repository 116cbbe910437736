// NetworkConfig: the `--net` option ("user[,hostfwd=..][,mac=..]", "tap=NAME[,mac=..]", "none").
#include "backends/net/network_config.hpp"

#include "backends/net/slirp_backend.hpp"
#include "backends/net/tap_backend.hpp"

namespace vessel {

namespace {

std::vector<std::string_view> split_commas(std::string_view text) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto comma = text.find(',');
        parts.push_back(text.substr(0, comma));
        if (comma == std::string_view::npos) return parts;
        text.remove_prefix(comma + 1);
    }
}

Result<NetworkConfig> parse_parts(std::string_view text) {
    NetworkConfig config;
    const std::vector<std::string_view> parts = split_commas(text);
    const std::string_view kind = parts.front();
    if (kind == "none") {
        if (parts.size() > 1) return make_error("'none' takes no options");
        config.kind = NetworkConfig::Kind::none;
        return config;
    }
    if (kind == "user") {
        config.kind = NetworkConfig::Kind::user;
    } else if (kind.starts_with("tap=")) {
        config.kind = NetworkConfig::Kind::tap;
        config.tap_name = std::string(kind.substr(4));
        if (config.tap_name.empty()) return make_error("tap= needs an interface name");
    } else {
        return make_error("'{}' is not a network kind (user, tap=NAME or none)", kind);
    }
    for (std::size_t index = 1; index < parts.size(); ++index) {
        const std::string_view part = parts[index];
        if (part.starts_with("mac=")) {
            config.mac = TRY(MacAddress::parse(part.substr(4)));
        } else if (part.starts_with("hostfwd=") && config.kind == NetworkConfig::Kind::user) {
            config.host_forwards.push_back(TRY(HostForward::parse(part.substr(8))));
        } else {
            return make_error("unknown option '{}' for {}", part,
                              config.kind == NetworkConfig::Kind::user ? "user (hostfwd=, mac=)"
                                                                       : "tap (mac=)");
        }
    }
    return config;
}

} // namespace

Result<NetworkConfig> NetworkConfig::parse(std::string_view text) {
    return TRY_CONTEXT(parse_parts(text), fmt::format("--net '{}'", text));
}

Result<std::unique_ptr<NetBackend>> create_net_backend(const NetworkConfig& config) {
    switch (config.kind) {
    case NetworkConfig::Kind::none:
        return std::unique_ptr<NetBackend>();
    case NetworkConfig::Kind::user:
        return std::unique_ptr<NetBackend>(
            TRY(SlirpBackend::create(SlirpOptions{.host_forwards = config.host_forwards})));
    case NetworkConfig::Kind::tap:
        return std::unique_ptr<NetBackend>(TRY(TapBackend::create(config.tap_name)));
    }
    return make_error("network: unknown back-end kind");
}

} // namespace vessel
