// StateWriter / StateReader: round trips, and every way a short or bad input is refused.
#include "base/state_archive.hpp"

#include <gtest/gtest.h>

namespace vessel {
namespace {

struct Sample {
    std::uint8_t small{0};
    std::uint64_t large{0};
    bool flag{false};
    long double extended{0};
    std::array<std::uint16_t, 3> words{};
    std::optional<std::uint32_t> maybe;
    std::deque<std::uint8_t> queue;
    std::string text;
    std::map<std::uint16_t, std::vector<std::uint8_t>> items;

    template <typename Archive> void persist(Archive& archive) {
        archive(small, large, flag, extended, words, maybe, queue, text, items);
    }
};

Sample filled() {
    Sample sample;
    sample.small = 0x12;
    sample.large = 0x1122334455667788;
    sample.flag = true;
    sample.extended = -3.25L;
    sample.words = {1, 2, 0xffff};
    sample.maybe = 77;
    sample.queue = {9, 8, 7};
    sample.text = "vessel";
    sample.items = {{1, {1, 2}}, {0x19, {}}};
    return sample;
}

TEST(StateArchive, RoundTripsEveryKindOfField) {
    StateWriter writer;
    Sample original = filled();
    writer(original);
    // 1 + 8 + 1 + 10 + 6 + (1 + 4) + (4 + 3) + (4 + 6) + (4 + (2 + 4 + 2) + (2 + 4))
    EXPECT_EQ(writer.bytes().size(), 66u);
    StateReader reader(writer.bytes());
    Sample loaded;
    reader(loaded);
    ASSERT_TRUE(reader.finish("sample")) << reader.error();
    EXPECT_EQ(loaded.small, original.small);
    EXPECT_EQ(loaded.large, original.large);
    EXPECT_TRUE(loaded.flag);
    EXPECT_EQ(loaded.extended, original.extended);
    EXPECT_EQ(loaded.words, original.words);
    EXPECT_EQ(loaded.maybe, original.maybe);
    EXPECT_EQ(loaded.queue, original.queue);
    EXPECT_EQ(loaded.text, original.text);
    EXPECT_EQ(loaded.items, original.items);
}

TEST(StateArchive, EveryTruncationIsRefusedWithAMessage) {
    StateWriter writer;
    Sample original = filled();
    writer(original);
    const auto bytes = writer.take();
    for (std::size_t length = 0; length < bytes.size(); ++length) {
        StateReader reader{std::span<const std::uint8_t>(bytes).first(length)};
        Sample loaded;
        reader(loaded);
        auto result = reader.finish("sample");
        ASSERT_FALSE(result) << "length " << length;
        // A short field, or a count larger than the bytes that are left.
        const std::string& message = result.error().message;
        EXPECT_TRUE(message.starts_with("sample: state ends at byte") ||
                    message.starts_with("sample: element count out of range"))
            << message;
    }
}

TEST(StateArchive, RefusesBadBooleansHugeCountsAndLeftoverBytes) {
    const std::uint8_t bad_bool[] = {2};
    StateReader bool_reader(bad_bool);
    bool flag = false;
    bool_reader(flag);
    EXPECT_FALSE(bool_reader.ok());

    const std::uint8_t huge_count[] = {0xff, 0xff, 0xff, 0x7f, 1, 2};
    StateReader count_reader(huge_count);
    std::vector<std::uint8_t> values;
    count_reader(values);
    EXPECT_FALSE(count_reader.ok());
    EXPECT_TRUE(values.empty());

    const std::uint8_t extra[] = {1, 2};
    StateReader extra_reader(extra);
    std::uint8_t one = 0;
    extra_reader(one);
    auto result = extra_reader.finish("tail");
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().message, "tail: 1 bytes left over after the last field");
}

} // namespace
} // namespace vessel
