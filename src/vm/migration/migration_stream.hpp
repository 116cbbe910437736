// The live-migration stream: a header, then typed records (docs/SNAPSHOT_FORMAT.md, "Live
// migration stream").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace vessel::migration {

/// Record types, in the order a source sends them.
enum class RecordType : std::uint32_t {
    Machine = 1, ///< the snapshot's `machine` section: what the destination builds
    Pages = 2,   ///< first page (u64), page count (u64), the pages' bytes
    Zeros = 3,   ///< first page (u64), page count (u64): these pages are zero
    State = 4,   ///< a complete snapshot state file (the `machine` section included)
    End = 5,     ///< nothing follows; the destination answers with a Result record
    Result = 6,  ///< destination to source: status (u32, 0 = running), then a message
    Sync = 7,    ///< nothing; the destination answers with a Result once it read all before
};

inline constexpr char stream_magic[8] = {'V', 'E', 'S', 'S', 'E', 'L', 'M', 'G'};
/// Version 2: the Machine record is the machine section of layout 2 (with the balloon);
/// version 1 streams (layout 1) are still read.
inline constexpr std::uint32_t stream_version = 2;
/// Pages per Pages record (1 MiB): big enough for few syscalls, small enough to bound memory.
inline constexpr std::uint64_t max_pages_per_record = 256;
/// Longest record the reader accepts (a state file is at most 256 MiB, see SnapshotFile).
inline constexpr std::uint64_t max_record_length = 256u << 20;
/// StreamReader::payload reads a record in pieces of this size, its buffer growing with them.
inline constexpr std::uint64_t payload_chunk_size = 1u << 20;

/// Blocking writer of a migration stream on a connected socket. Counts the bytes it sent.
class StreamWriter {
  public:
    explicit StreamWriter(int fd) : m_fd(fd) {}
    Result<void> header();
    Result<void> record(RecordType type, std::span<const std::uint8_t> payload);
    /// A Pages record whose bytes are sent straight from guest RAM (no copy).
    Result<void> pages(std::uint64_t first_page, std::uint64_t count, const std::uint8_t* bytes);
    Result<void> zeros(std::uint64_t first_page, std::uint64_t count);
    std::uint64_t bytes_sent() const { return m_bytes_sent; }

  private:
    Result<void> send_all(const void* data, std::size_t length);
    int m_fd;
    std::uint64_t m_bytes_sent{0};
};

/// One record as read: its type and payload (for Pages, only the 16-byte range header: the
/// page bytes are read by the caller with read_exact straight into guest RAM).
struct RecordHeader {
    RecordType type;
    std::uint64_t length;
};

/// Blocking reader of a migration stream; every error names `source` (the URL).
class StreamReader {
  public:
    StreamReader(int fd, std::string source) : m_fd(fd), m_source(std::move(source)) {}
    /// Reads and checks the stream header (versions 1 to stream_version).
    Result<void> header();
    /// The version the header named (after header()).
    std::uint32_t version() const { return m_version; }
    Result<RecordHeader> next();
    Result<void> read_exact(void* data, std::size_t length);
    /// A record's payload of `length` bytes (at most max_record_length); memory grows with the
    /// bytes received, never ahead of them by more than payload_chunk_size.
    Result<std::vector<std::uint8_t>> payload(std::uint64_t length);
    const std::string& source() const { return m_source; }
    std::uint64_t bytes_received() const { return m_bytes_received; }

  private:
    int m_fd;
    std::string m_source;
    std::uint64_t m_bytes_received{0};
    std::uint32_t m_version{stream_version};
};

/// The destination's answer after End: 0 and "running", or non-zero and why it refused.
Result<void> send_result(int fd, std::uint32_t status, const std::string& message);
/// Waits for the destination's Result record; fails with its message when it refused.
Result<void> receive_result(int fd, const std::string& destination);

} // namespace vessel::migration
