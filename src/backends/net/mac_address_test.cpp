// MacAddress: parsing, printing and rejection of malformed or multicast addresses.
#include "backends/net/mac_address.hpp"

#include <gtest/gtest.h>

using namespace vessel;

TEST(MacAddress, ParsesAndPrints) {
    auto address = MacAddress::parse("02:AB:cd:00:ff:10");
    ASSERT_TRUE(address.has_value()) << address.error().message;
    EXPECT_EQ(address->bytes, (std::array<std::uint8_t, 6>{0x02, 0xab, 0xcd, 0x00, 0xff, 0x10}));
    EXPECT_EQ(address->to_string(), "02:ab:cd:00:ff:10");
    EXPECT_EQ(MacAddress::default_guest().to_string(), "52:54:00:12:34:56");
}

TEST(MacAddress, RejectsMalformedAndMulticast) {
    for (const char* text : {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56",
                             "52:54:00:12:34:5g", "5:254:00:12:34:56", "52:54:00:12:34:+5"}) {
        auto address = MacAddress::parse(text);
        ASSERT_FALSE(address.has_value()) << text;
        EXPECT_NE(address.error().message.find("six hex bytes"), std::string::npos) << text;
    }
    auto multicast = MacAddress::parse("01:00:5e:00:00:01");
    ASSERT_FALSE(multicast.has_value());
    EXPECT_NE(multicast.error().message.find("multicast"), std::string::npos);
}
