// FwCfg: selector/data protocol and the standard items.
#include "devices/legacy/fw_cfg.hpp"

#include <gtest/gtest.h>

#include "devices/legacy/test_support.hpp"

using namespace vessel;
using namespace vessel::testing;

namespace {
std::uint64_t read_item(FwCfg& device, std::uint16_t key, int size) {
    write16(device, 0, key);
    std::uint64_t value = 0;
    for (int i = 0; i < size; ++i)
        value |= std::uint64_t{read8(device, 1)} << (8 * i);
    return value;
}
} // namespace

TEST(FwCfg, SignatureReadsQemu) {
    FwCfg device(256 << 20, 2);
    write16(device, 0, FwCfg::key_signature);
    std::string signature;
    for (int i = 0; i < 4; ++i)
        signature += static_cast<char>(read8(device, 1));
    EXPECT_EQ(signature, "QEMU");
}

TEST(FwCfg, RamSizeAndCpuCount) {
    FwCfg device(std::uint64_t{5} << 30, 3);
    EXPECT_EQ(read_item(device, FwCfg::key_ram_size, 8), std::uint64_t{5} << 30);
    EXPECT_EQ(read_item(device, FwCfg::key_cpu_count, 2), 3u);
    EXPECT_EQ(read_item(device, FwCfg::key_id, 4), 1u);
}

TEST(FwCfg, ReadsPastEndAndUnknownKeysGiveZero) {
    FwCfg device(1 << 20, 1);
    write16(device, 0, FwCfg::key_cpu_count);
    read8(device, 1);
    read8(device, 1);
    EXPECT_EQ(read8(device, 1), 0);
    write16(device, 0, 0x1234);
    EXPECT_EQ(read8(device, 1), 0);
}

TEST(FwCfg, ReselectingRestartsAtOffsetZero) {
    FwCfg device(1 << 20, 1);
    write16(device, 0, FwCfg::key_signature);
    EXPECT_EQ(read8(device, 1), 'Q');
    EXPECT_EQ(read8(device, 1), 'E');
    write16(device, 0, FwCfg::key_signature);
    EXPECT_EQ(read8(device, 1), 'Q');
}

TEST(FwCfg, DataPortIsReadOnly) {
    FwCfg device(1 << 20, 1);
    write16(device, 0, FwCfg::key_signature);
    write8(device, 1, 'X');
    write16(device, 0, FwCfg::key_signature);
    EXPECT_EQ(read8(device, 1), 'Q');
}
