// CodeCache: the mapping a vCPU's translated code lives in.
#include "engine/soft/translator/code_cache.hpp"

#include <gtest/gtest.h>

#include "base/huge_page_test_support.hpp"

namespace vessel::soft {
namespace {

TEST(CodeCache, MayUseHugePages) {
    if (!test::host_offers_huge_pages()) GTEST_SKIP() << "the host's THP mode is never";
    auto cache = CodeCache::create(8 << 20);
    ASSERT_TRUE(cache.has_value()) << cache.error().message;
    EXPECT_EQ(test::huge_page_eligible(cache->current()), true);
}

} // namespace
} // namespace vessel::soft
