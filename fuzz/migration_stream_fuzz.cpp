// libFuzzer target: a hostile live-migration source. The input is the byte stream a destination
// receives on its socket; it is read with the public StreamReader the way
// Machine::receive_migration reads it (header, the machine record through decode_machine, then
// Pages/Zeros/Sync/State records into a 1 MiB guest RAM until End), with the page ranges checked
// against RAM before any byte is written. Nothing may crash, write outside RAM, or hang.
#include <cstdint>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "base/log.hpp"
#include "base/unique_fd.hpp"
#include "memory/guest_memory.hpp"
#include "vm/migration/migration_stream.hpp"
#include "vm/snapshot/machine_config_state.hpp"
#include "vm/snapshot/snapshot_file.hpp"

namespace {

using namespace vessel;
using migration::RecordType;

constexpr std::uint64_t memory_size = 1 << 20;
constexpr unsigned max_records = 4096; // a stream of empty Sync records still ends

GuestMemory& memory() {
    static GuestMemory instance = [] {
        log::initialize("off");
        return GuestMemory::create(memory_size).value();
    }();
    return instance;
}

Result<void> receive(migration::StreamReader& stream, int peer) {
    TRY(stream.header());
    const migration::RecordHeader first = TRY(stream.next());
    if (first.type != RecordType::Machine || first.length > (1u << 20))
        return make_error("does not start with the machine record");
    const auto machine = TRY(stream.payload(first.length));
    TRY(snapshot::decode_machine(machine));
    GuestMemory& ram = memory();
    const std::uint64_t page_count = ram.size() / GuestMemory::page_size;
    for (unsigned records = 0; records < max_records; ++records) {
        const migration::RecordHeader record = TRY(stream.next());
        if (record.type == RecordType::End) return {};
        if (record.type == RecordType::Sync) {
            TRY(migration::send_result(peer, 0, "synced"));
            continue;
        }
        if (record.type == RecordType::Pages || record.type == RecordType::Zeros) {
            if (record.length < 16) return make_error("short page record");
            std::uint64_t range[2];
            TRY(stream.read_exact(range, sizeof(range)));
            const std::uint64_t first_page = range[0], count = range[1];
            if (count == 0 || count > migration::max_pages_per_record || first_page >= page_count ||
                count > page_count - first_page)
                return make_error("pages outside RAM");
            // Through the checked accessor, so a bad range the checks above let by would show.
            auto target = ram.slice(first_page * 4096, count * 4096);
            if (!target || target->size() != count * 4096) __builtin_trap();
            if (record.type == RecordType::Zeros)
                std::memset(target->data(), 0, target->size());
            else
                TRY(stream.read_exact(target->data(), target->size()));
            continue;
        }
        if (record.type != RecordType::State) return make_error("unexpected record type");
        const auto bytes = TRY(stream.payload(record.length));
        TRY(snapshot::SnapshotFile::decode(bytes, "migration state"));
    }
    return make_error("too many records");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A Unix stream socket pair stands for the connection (the reader uses recv); the whole
    // input is written first (inputs are at most -max_len, far below the socket buffer), then
    // the writing side shuts down, so the reader sees the stream's end as a cut connection.
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) __builtin_trap();
    UniqueFd reader_end(ends[0]), source_end(ends[1]);
    int buffer = 1 << 20;
    (void)::setsockopt(source_end.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
    (void)::setsockopt(reader_end.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
    for (std::size_t sent = 0; sent < size;) {
        const ssize_t wrote = ::send(source_end.get(), data + sent, size - sent, MSG_DONTWAIT);
        if (wrote <= 0) break; // a full buffer: the stream is cut there
        sent += static_cast<std::size_t>(wrote);
    }
    ::shutdown(source_end.get(), SHUT_WR);
    // The destination's answers (to Sync records) go to a socket of their own, non-blocking, so
    // a stream of Syncs ends with a send error instead of filling a buffer nobody reads.
    int answer_ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, answer_ends) != 0)
        __builtin_trap();
    UniqueFd answers(answer_ends[0]), answers_peer(answer_ends[1]);
    migration::StreamReader stream(reader_end.get(), "fuzz");
    auto received = receive(stream, answers.get());
    if (!received && received.error().message.empty()) __builtin_trap();
    return 0;
}
