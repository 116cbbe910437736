// MacAddress: a 48-bit Ethernet address, parsed from and printed as "52:54:00:12:34:56".
#include "backends/net/mac_address.hpp"

#include <charconv>

namespace vessel {

namespace {
constexpr std::uint8_t multicast_bit = 0x01; // I/G bit of the first octet (IEEE 802 section 8.2)
constexpr std::size_t mac_text_length = 17;  // "xx:xx:xx:xx:xx:xx"
} // namespace

Result<MacAddress> MacAddress::parse(std::string_view text) {
    MacAddress address;
    bool well_formed = text.size() == mac_text_length;
    for (std::size_t index = 0; well_formed && index < address.bytes.size(); ++index) {
        const std::size_t at = index * 3;
        const char* first = text.data() + at;
        auto [end, error] = std::from_chars(first, first + 2, address.bytes[index], 16);
        well_formed = error == std::errc{} && end == first + 2 &&
                      (index + 1 == address.bytes.size() || text[at + 2] == ':');
    }
    if (!well_formed)
        return make_error("MAC address '{}': expected six hex bytes such as 52:54:00:12:34:56",
                          text);
    if ((address.bytes[0] & multicast_bit) != 0)
        return make_error("MAC address '{}': a multicast address cannot belong to a NIC", text);
    return address;
}

MacAddress MacAddress::default_guest() {
    return MacAddress{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
}

std::string MacAddress::to_string() const {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", bytes[0], bytes[1], bytes[2],
                       bytes[3], bytes[4], bytes[5]);
}

} // namespace vessel
