// Early checks of disk images, TAP interfaces and MAC addresses through their back-ends.
#include "vm/host_resources.hpp"

#include "backends/block/sync_file_backend.hpp"
#include "backends/net/mac_address.hpp"
#include "backends/net/tap_backend.hpp"

namespace vessel {

Result<void> check_disk_image(const std::string& path, bool read_only) {
    TRY(SyncFileBackend::open(path, read_only));
    return {};
}

Result<void> check_tap_interface(const std::string& name) {
    TRY(TapBackend::create(name));
    return {};
}

Result<void> check_mac_address(std::string_view text) {
    TRY(MacAddress::parse(text));
    return {};
}

Result<NetworkConfig> tap_network(const std::string& tap_name,
                                  const std::optional<std::string>& mac, std::size_t index) {
    NetworkConfig network;
    network.kind = NetworkConfig::Kind::tap;
    network.tap_name = tap_name;
    if (mac)
        network.mac = TRY(MacAddress::parse(*mac));
    else
        network.mac.bytes[5] = static_cast<std::uint8_t>(network.mac.bytes[5] + index);
    return network;
}

} // namespace vessel
