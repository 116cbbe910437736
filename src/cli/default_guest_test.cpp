// base64_encode against RFC 4648 test vectors.
#include "cli/default_guest.hpp"

#include <gtest/gtest.h>

TEST(Base64, Rfc4648Vectors) {
    using vessel::base64_encode;
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode("echo 'a b' \"$X\""), "ZWNobyAnYSBiJyAiJFgi");
}
