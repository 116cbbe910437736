// The live-migration stream: record framing over a blocking socket, with every length checked.
#include "vm/migration/migration_stream.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vessel::migration {
namespace {

struct WireHeader {
    char magic[8];
    std::uint32_t version;
    std::uint32_t reserved;
};
static_assert(sizeof(WireHeader) == 16);

struct WireRecord {
    std::uint32_t type;
    std::uint32_t reserved;
    std::uint64_t length;
};
static_assert(sizeof(WireRecord) == 16);

struct WireRange {
    std::uint64_t first_page;
    std::uint64_t count;
};

} // namespace

Result<void> StreamWriter::send_all(const void* data, std::size_t length) {
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    while (length > 0) {
        // MSG_NOSIGNAL: a destination that went away is an error here, not a SIGPIPE.
        const ssize_t sent = ::send(m_fd, bytes, length, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0)
            return make_error("migration stream: send failed after {} bytes: {}", m_bytes_sent,
                              sent < 0 ? std::strerror(errno) : "connection closed");
        bytes += sent;
        length -= static_cast<std::size_t>(sent);
        m_bytes_sent += static_cast<std::uint64_t>(sent);
    }
    return {};
}

Result<void> StreamWriter::header() {
    WireHeader header{};
    std::memcpy(header.magic, stream_magic, sizeof(stream_magic));
    header.version = stream_version;
    return send_all(&header, sizeof(header));
}

Result<void> StreamWriter::record(RecordType type, std::span<const std::uint8_t> payload) {
    const WireRecord record{static_cast<std::uint32_t>(type), 0, payload.size()};
    TRY(send_all(&record, sizeof(record)));
    return send_all(payload.data(), payload.size());
}

Result<void> StreamWriter::pages(std::uint64_t first_page, std::uint64_t count,
                                 const std::uint8_t* bytes) {
    const WireRecord record{static_cast<std::uint32_t>(RecordType::Pages), 0,
                            sizeof(WireRange) + count * 4096};
    const WireRange range{first_page, count};
    TRY(send_all(&record, sizeof(record)));
    TRY(send_all(&range, sizeof(range)));
    return send_all(bytes, count * 4096);
}

Result<void> StreamWriter::zeros(std::uint64_t first_page, std::uint64_t count) {
    const WireRange range{first_page, count};
    // Sound: WireRange is two u64s, sent as its bytes (little-endian on both ends).
    return record(RecordType::Zeros,
                  {reinterpret_cast<const std::uint8_t*>(&range), sizeof(range)});
}

Result<void> StreamReader::read_exact(void* data, std::size_t length) {
    auto* bytes = static_cast<std::uint8_t*>(data);
    while (length > 0) {
        const ssize_t got = ::recv(m_fd, bytes, length, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0)
            return make_error("migration stream from {}: receive failed after {} bytes: {}",
                              m_source, m_bytes_received, std::strerror(errno));
        if (got == 0)
            return make_error("migration stream from {}: ended after {} bytes, in the middle "
                              "(the source stopped or the connection was cut)",
                              m_source, m_bytes_received);
        bytes += got;
        length -= static_cast<std::size_t>(got);
        m_bytes_received += static_cast<std::uint64_t>(got);
    }
    return {};
}

Result<void> StreamReader::header() {
    WireHeader header{};
    TRY(read_exact(&header, sizeof(header)));
    if (std::memcmp(header.magic, stream_magic, sizeof(stream_magic)) != 0)
        return make_error("migration stream from {}: not a Vessel migration stream (bad magic)",
                          m_source);
    if (header.version == 0 || header.version > stream_version)
        return make_error("migration stream from {}: version {}, this Vessel reads versions 1 to "
                          "{}",
                          m_source, header.version, stream_version);
    m_version = header.version;
    return {};
}

Result<RecordHeader> StreamReader::next() {
    WireRecord record{};
    TRY(read_exact(&record, sizeof(record)));
    if (record.type < static_cast<std::uint32_t>(RecordType::Machine) ||
        record.type > static_cast<std::uint32_t>(RecordType::Sync))
        return make_error("migration stream from {}: unknown record type {} at byte {}", m_source,
                          record.type, m_bytes_received - sizeof(record));
    if (record.length > max_record_length)
        return make_error("migration stream from {}: record of {} bytes is larger than {}",
                          m_source, record.length, max_record_length);
    return RecordHeader{static_cast<RecordType>(record.type), record.length};
}

Result<std::vector<std::uint8_t>> StreamReader::payload(std::uint64_t length) {
    // The length is the peer's word: grow the buffer only as the bytes arrive, so a record that
    // declares 256 MiB and then stalls or ends holds at most one chunk more than it sent.
    std::vector<std::uint8_t> bytes;
    bytes.reserve(static_cast<std::size_t>(std::min(length, payload_chunk_size)));
    while (bytes.size() < length) {
        const std::size_t done = bytes.size();
        const auto chunk = static_cast<std::size_t>(std::min(length - done, payload_chunk_size));
        bytes.resize(done + chunk);
        TRY(read_exact(bytes.data() + done, chunk));
    }
    return bytes;
}

Result<void> send_result(int fd, std::uint32_t status, const std::string& message) {
    StreamWriter writer(fd);
    std::vector<std::uint8_t> payload(4 + message.size());
    std::memcpy(payload.data(), &status, 4);
    std::memcpy(payload.data() + 4, message.data(), message.size());
    return writer.record(RecordType::Result, payload);
}

Result<void> receive_result(int fd, const std::string& destination) {
    StreamReader reader(fd, destination);
    const RecordHeader record = TRY(reader.next());
    if (record.type != RecordType::Result || record.length < 4 || record.length > 65536)
        return make_error("migration to {}: the destination's answer is not a result record",
                          destination);
    const auto payload = TRY(reader.payload(record.length));
    std::uint32_t status = 0;
    std::memcpy(&status, payload.data(), 4);
    std::string message(payload.begin() + 4, payload.end());
    if (status != 0)
        return make_error("migration to {}: the destination refused: {}", destination, message);
    return {};
}

} // namespace vessel::migration
