// NetworkConfig: the --net option's kinds, options and errors.
#include "backends/net/network_config.hpp"

#include <gtest/gtest.h>

using namespace vessel;

TEST(NetworkConfig, ParsesUserWithForwardsAndMac) {
    auto config = NetworkConfig::parse(
        "user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-:53,mac=02:00:00:00:00:01");
    ASSERT_TRUE(config.has_value()) << config.error().message;
    EXPECT_EQ(config->kind, NetworkConfig::Kind::user);
    ASSERT_EQ(config->host_forwards.size(), 2u);
    EXPECT_EQ(config->host_forwards[1].protocol, HostForward::Protocol::udp);
    EXPECT_EQ(config->mac.to_string(), "02:00:00:00:00:01");
}

TEST(NetworkConfig, ParsesTapAndNone) {
    auto tap = NetworkConfig::parse("tap=vessel0");
    ASSERT_TRUE(tap.has_value());
    EXPECT_EQ(tap->kind, NetworkConfig::Kind::tap);
    EXPECT_EQ(tap->tap_name, "vessel0");
    EXPECT_EQ(tap->mac, MacAddress::default_guest());

    auto none = NetworkConfig::parse("none");
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ(none->kind, NetworkConfig::Kind::none);
    auto backend = create_net_backend(*none);
    ASSERT_TRUE(backend.has_value());
    EXPECT_EQ(backend->get(), nullptr);
}

TEST(NetworkConfig, BadInputsNameTheProblem) {
    struct Case {
        const char* text;
        const char* expected;
    };
    for (const Case& bad :
         {Case{"bridge", "'bridge' is not a network kind"}, Case{"tap=", "needs an interface name"},
          Case{"none,mac=02:00:00:00:00:01", "takes no options"},
          Case{"tap=t0,hostfwd=tcp::1-:2", "unknown option 'hostfwd"},
          Case{"user,mac=zz", "MAC address 'zz'"},
          Case{"user,hostfwd=tcp::99999-:22", "host port '99999'"},
          Case{"user,speed=10", "unknown option 'speed=10'"}}) {
        auto config = NetworkConfig::parse(bad.text);
        ASSERT_FALSE(config.has_value()) << bad.text;
        EXPECT_NE(config.error().message.find(bad.expected), std::string::npos)
            << config.error().message;
        EXPECT_NE(config.error().message.find(bad.text), std::string::npos)
            << config.error().message;
    }
}
