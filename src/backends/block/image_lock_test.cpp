// lock_image: shared locks coexist, an exclusive lock excludes every other open of the image.
#include "backends/block/image_lock.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "base/unique_fd.hpp"

namespace vessel {
namespace {

class ImageLockTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char path[] = "/tmp/vessel-image-lock-XXXXXX";
        const int fd = ::mkstemp(path);
        ASSERT_GE(fd, 0);
        ::close(fd);
        m_path = path;
    }
    void TearDown() override { ::unlink(m_path.c_str()); }
    UniqueFd open_image(bool read_only) const {
        return UniqueFd(::open(m_path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    }
    std::string m_path;
};

TEST_F(ImageLockTest, ReadersShareAnImage) {
    UniqueFd first = open_image(true);
    UniqueFd second = open_image(true);
    EXPECT_TRUE(lock_image(first.get(), m_path, true));
    EXPECT_TRUE(lock_image(second.get(), m_path, true));
}

TEST_F(ImageLockTest, AWriterExcludesReadersAndWritersOfOtherOpens) {
    UniqueFd writer = open_image(false);
    ASSERT_TRUE(lock_image(writer.get(), m_path, false));
    UniqueFd reader = open_image(true);
    auto refused = lock_image(reader.get(), m_path, true);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find(m_path), std::string::npos);
    EXPECT_NE(refused.error().message.find("another user holds it"), std::string::npos);
    UniqueFd second_writer = open_image(false);
    EXPECT_FALSE(lock_image(second_writer.get(), m_path, false));
}

TEST_F(ImageLockTest, AReaderExcludesAWriterAndTheLockEndsWithItsFile) {
    UniqueFd reader = open_image(true);
    ASSERT_TRUE(lock_image(reader.get(), m_path, true));
    UniqueFd writer = open_image(false);
    EXPECT_FALSE(lock_image(writer.get(), m_path, false));
    reader.reset();
    EXPECT_TRUE(lock_image(writer.get(), m_path, false));
}

} // namespace
} // namespace vessel
