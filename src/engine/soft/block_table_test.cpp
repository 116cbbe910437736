// BlockTable: lookups across growth, stable addresses, key 0, clear.
#include "engine/soft/block_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace vessel::soft {
namespace {

struct Item {
    std::uint64_t key{0};
};

TEST(BlockTable, FindsEveryKeyAcrossGrowthAndKeepsAddresses) {
    BlockTable<Item> table;
    std::vector<Item*> stored;
    // Block keys as the cache makes them: (RAM offset << 3) | mode, here offsets 16 bytes
    // apart (clustered keys) and some far apart, 20000 in all (the table grows several times).
    std::vector<std::uint64_t> keys;
    for (std::uint64_t i = 0; i < 16000; ++i)
        keys.push_back((i * 16) << 3 | 4);
    for (std::uint64_t i = 0; i < 4000; ++i)
        keys.push_back((0x4000'0000 + i * 4096) << 3 | 1);
    for (std::uint64_t key : keys) {
        auto& slot = table[key];
        ASSERT_EQ(slot, nullptr) << key;
        slot = std::make_unique<Item>(Item{key});
        stored.push_back(slot.get());
    }
    EXPECT_EQ(table.size(), keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        ASSERT_EQ(table.find(keys[i]), stored[i]) << keys[i];
        EXPECT_EQ(table.find(keys[i])->key, keys[i]);
    }
    EXPECT_EQ(table.find((16000 * 16) << 3 | 4), nullptr);
    EXPECT_EQ(table.find(5), nullptr);
    // An existing key gives its slot back, holding the same object.
    EXPECT_EQ(table[keys[7]].get(), stored[7]);
    EXPECT_EQ(table.size(), keys.size());
}

TEST(BlockTable, KeyZeroIsAKeyLikeAnyOther) {
    BlockTable<Item> table;
    EXPECT_EQ(table.find(0), nullptr);
    table[0] = std::make_unique<Item>(Item{0});
    ASSERT_NE(table.find(0), nullptr);
    EXPECT_EQ(table.find(0)->key, 0u);
    EXPECT_EQ(table.size(), 1u);
}

TEST(BlockTable, ClearFreesEverythingAndTheTableWorksAgain) {
    BlockTable<Item> table;
    for (std::uint64_t key = 1; key <= 5000; ++key)
        table[key] = std::make_unique<Item>(Item{key});
    table.clear();
    EXPECT_EQ(table.size(), 0u);
    for (std::uint64_t key = 1; key <= 5000; ++key)
        ASSERT_EQ(table.find(key), nullptr);
    table[42] = std::make_unique<Item>(Item{42});
    EXPECT_EQ(table.find(42)->key, 42u);
}

} // namespace
} // namespace vessel::soft
