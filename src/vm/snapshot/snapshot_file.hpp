// SnapshotFile: the versioned, checksummed container of a VM's saved state (not its memory).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace vessel::snapshot {

/// One named part of the state ("cpu.0", "pc-platform", "virtio.3", ...), with its own version
/// so a part can change its layout without a new file format.
struct Section {
    std::string tag; ///< at most tag_length bytes, printable ASCII
    std::uint32_t version{1};
    std::vector<std::uint8_t> payload;
};

/// The state file of docs/SNAPSHOT_FORMAT.md: a header (magic, format version), sections, and
/// a CRC-32 of everything before it. decode() checks all of it before anything is used.
class SnapshotFile {
  public:
    static constexpr char magic[8] = {'V', 'E', 'S', 'S', 'E', 'L', 'S', 'N'};
    /// The format this Vessel writes and the only one it reads (see the format document).
    static constexpr std::uint32_t format_version = 1;
    static constexpr std::size_t header_size =
        24; ///< magic, version, section count, flags, reserved
    static constexpr std::size_t tag_length = 16; ///< NUL-padded ASCII
    static constexpr std::size_t section_header_size = tag_length + 4 + 4 + 8;
    static constexpr std::size_t trailer_size = 8; ///< CRC-32, then the magic "VSNEND\0\0" check
    static constexpr std::uint32_t max_sections = 4096;
    /// Bigger state files are refused unread (real ones are a few hundred KiB at most).
    static constexpr std::uint64_t max_file_size = 256u << 20;

    void add(std::string tag, std::uint32_t version, std::vector<std::uint8_t> payload);
    const std::vector<Section>& sections() const { return m_sections; }
    /// The section `tag`, or an error naming the missing section.
    Result<const Section*> find(std::string_view tag) const;
    /// Like find, but also fails unless the section has `version`.
    Result<std::span<const std::uint8_t>> payload(std::string_view tag,
                                                  std::uint32_t version) const;

    std::vector<std::uint8_t> encode() const;
    /// Checks and splits a state file; `name` (the path) prefixes every error.
    static Result<SnapshotFile> decode(std::span<const std::uint8_t> bytes, std::string_view name);

    /// Writes the file atomically (temporary file, fsync, rename).
    Result<void> write(const std::string& path) const;
    static Result<SnapshotFile> read(const std::string& path);

  private:
    std::vector<Section> m_sections;
};

/// CRC-32 (IEEE 802.3, the one of zlib and gzip) of `bytes`, continuing from `crc`.
std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);

} // namespace vessel::snapshot
