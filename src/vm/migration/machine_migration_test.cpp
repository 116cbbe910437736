// Receiving a migration: streams that are cut, out of range or out of order are refused with a
// message naming the problem, the source is told why, and no machine is built.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "base/unique_fd.hpp"
#include "vm/machine.hpp"
#include "vm/migration/migration_stream.hpp"
#include "vm/snapshot/machine_config_state.hpp"
#include "vm/snapshot/snapshot_file.hpp"

namespace vessel {
namespace {

using migration::RecordType;

/// A receiver on a fresh Unix socket; send() connects as a source and writes `build`'s records.
class Receiver {
  public:
    Receiver() {
        char pattern[] = "/tmp/vessel-migration-XXXXXX";
        m_directory = ::mkdtemp(pattern);
        m_url = "unix:" + m_directory + "/in.sock";
        m_result = std::async(std::launch::async, [this] {
            return Machine::receive_migration(
                m_url, [](std::span<const std::uint8_t>) {}, true);
        });
    }
    ~Receiver() { std::filesystem::remove_all(m_directory); }

    /// Connects, lets `write` send records, closes; returns the receiver's result and what it
    /// answered (empty when it sent no Result record).
    template <typename Write>
    std::pair<Result<std::unique_ptr<Machine>>, std::string> send(Write&& write) {
        const std::string path = m_directory + "/in.sock";
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
        for (int attempt = 0; attempt < 500; ++attempt) {
            // Sound: sockaddr_un is what connect expects for AF_UNIX.
            if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) ==
                0)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        migration::StreamWriter writer(fd.get());
        write(writer);
        ::shutdown(fd.get(), SHUT_WR);
        auto result = m_result.get();
        std::string answer;
        if (auto received = migration::receive_result(fd.get(), "test"); !received)
            answer = received.error().message;
        return {std::move(result), answer};
    }

  private:
    std::string m_directory;
    std::string m_url;
    std::future<Result<std::unique_ptr<Machine>>> m_result;
};

std::vector<std::uint8_t> machine_record() {
    snapshot::MachineSection section;
    section.config.memory_size = 16u << 20; // 4096 pages
    section.config.engine = EngineChoice::Soft;
    section.engine = EngineKind::Soft;
    return snapshot::encode_machine(section);
}

std::string error_of(const Result<std::unique_ptr<Machine>>& result) {
    return result ? std::string("(no error)") : result.error().message;
}

} // namespace

TEST(MigrationReceive, PagesOutsideRamAreRefusedAndTheSourceToldWhy) {
    Receiver receiver;
    auto [result, answer] = receiver.send([](migration::StreamWriter& writer) {
        ASSERT_TRUE(writer.header());
        ASSERT_TRUE(writer.record(RecordType::Machine, machine_record()));
        std::vector<std::uint8_t> page(4096, 0xab);
        // One past the last page. The receiver may refuse and close while the payload is still
        // being written, so this write's own result depends on timing (seen under ASan).
        (void)writer.pages(4096, 1, page.data());
    });
    EXPECT_NE(error_of(result).find("pages 4096+1 are outside the VM's 4096 pages"),
              std::string::npos)
        << error_of(result);
    EXPECT_NE(answer.find("the destination refused: migration stream from unix:"),
              std::string::npos)
        << answer;
}

TEST(MigrationReceive, ACutStreamIsRefused) {
    Receiver receiver;
    auto [result, answer] = receiver.send([](migration::StreamWriter& writer) {
        ASSERT_TRUE(writer.header());
        ASSERT_TRUE(writer.record(RecordType::Machine, machine_record()));
        std::vector<std::uint8_t> page(4096, 0xab);
        ASSERT_TRUE(writer.pages(0, 1, page.data()));
    });
    EXPECT_NE(error_of(result).find("in the middle (the source stopped or the connection was "
                                    "cut)"),
              std::string::npos)
        << error_of(result);
}

TEST(MigrationReceive, EndWithoutStateIsRefused) {
    Receiver receiver;
    auto [result, answer] = receiver.send([](migration::StreamWriter& writer) {
        ASSERT_TRUE(writer.header());
        ASSERT_TRUE(writer.record(RecordType::Machine, machine_record()));
        ASSERT_TRUE(writer.zeros(0, 16));
        ASSERT_TRUE(writer.record(RecordType::End, {}));
    });
    EXPECT_NE(error_of(result).find("ended without the VM's state"), std::string::npos)
        << error_of(result);
}

TEST(MigrationReceive, PagesBeforeTheMachineRecordAreRefused) {
    Receiver receiver;
    auto [result, answer] = receiver.send([](migration::StreamWriter& writer) {
        ASSERT_TRUE(writer.header());
        (void)writer.zeros(0, 16); // refused as it arrives: the write may see the close
    });
    EXPECT_NE(error_of(result).find("does not start with the machine record"), std::string::npos)
        << error_of(result);
}

TEST(MigrationReceive, AnUnknownRecordTypeIsRefused) {
    Receiver receiver;
    auto [result, answer] = receiver.send([](migration::StreamWriter& writer) {
        ASSERT_TRUE(writer.header());
        ASSERT_TRUE(writer.record(RecordType::Machine, machine_record()));
        (void)writer.record(static_cast<RecordType>(99), {}); // refused as it arrives
    });
    EXPECT_NE(error_of(result).find("unknown record type 99"), std::string::npos)
        << error_of(result);
}

TEST(MigrationReceive, AStateOfAnotherMachineIsRefused) {
    Receiver receiver;
    auto [result, answer] = receiver.send([](migration::StreamWriter& writer) {
        ASSERT_TRUE(writer.header());
        ASSERT_TRUE(writer.record(RecordType::Machine, machine_record()));
        snapshot::MachineSection other;
        other.config.memory_size = 32u << 20;
        other.engine = EngineKind::Soft;
        snapshot::SnapshotFile state;
        state.add("machine", snapshot::machine_section_version, snapshot::encode_machine(other));
        ASSERT_TRUE(writer.record(RecordType::State, state.encode()));
        (void)writer.record(RecordType::End, {});
    });
    EXPECT_NE(error_of(result).find("the state's machine section differs from the machine record"),
              std::string::npos)
        << error_of(result);
}

TEST(MigrationStream, ReadsVersions1And2AndRefusesNewer) {
    for (std::uint32_t version : {1u, 2u, 3u, 0u}) {
        int fds[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        UniqueFd reading(fds[0]), writing(fds[1]);
        std::uint8_t header[16] = {};
        std::memcpy(header, migration::stream_magic, 8);
        std::memcpy(header + 8, &version, 4);
        ASSERT_EQ(::write(writing.get(), header, sizeof(header)), 16);
        migration::StreamReader reader(reading.get(), "test");
        auto read = reader.header();
        if (version == 1 || version == 2) {
            ASSERT_TRUE(read) << read.error().message;
            EXPECT_EQ(reader.version(), version);
        } else {
            ASSERT_FALSE(read);
            EXPECT_NE(read.error().message.find("this Vessel reads versions 1 to 2"),
                      std::string::npos)
                << read.error().message;
        }
    }
}

} // namespace vessel
