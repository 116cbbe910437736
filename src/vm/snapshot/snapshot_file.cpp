// SnapshotFile: encoding, checks and atomic file I/O of the state file.
#include "vm/snapshot/snapshot_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "base/unique_fd.hpp"

namespace vessel::snapshot {
namespace {

constexpr char trailer_magic[4] = {'V', 'E', 'N', 'D'};

constexpr std::array<std::uint32_t, 256> crc_table() {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t index = 0; index < 256; ++index) {
        std::uint32_t value = index;
        for (int bit = 0; bit < 8; ++bit)
            value = (value & 1) != 0 ? 0xedb88320u ^ (value >> 1) : value >> 1;
        table[index] = value;
    }
    return table;
}
constexpr auto crc_lookup = crc_table();

void put32(std::vector<std::uint8_t>& out, std::uint32_t value) {
    for (int shift = 0; shift < 32; shift += 8)
        out.push_back(static_cast<std::uint8_t>(value >> shift));
}
void put64(std::vector<std::uint8_t>& out, std::uint64_t value) {
    put32(out, static_cast<std::uint32_t>(value));
    put32(out, static_cast<std::uint32_t>(value >> 32));
}
std::uint32_t get32(const std::uint8_t* bytes) {
    return std::uint32_t{bytes[0]} | std::uint32_t{bytes[1]} << 8 | std::uint32_t{bytes[2]} << 16 |
           std::uint32_t{bytes[3]} << 24;
}
std::uint64_t get64(const std::uint8_t* bytes) {
    return get32(bytes) | std::uint64_t{get32(bytes + 4)} << 32;
}
bool valid_tag(std::string_view tag) {
    return !tag.empty() && tag.size() <= SnapshotFile::tag_length &&
           std::all_of(tag.begin(), tag.end(), [](char c) { return c > ' ' && c < 127; });
}

} // namespace

std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
    crc = ~crc;
    for (std::uint8_t byte : bytes)
        crc = crc_lookup[(crc ^ byte) & 0xff] ^ (crc >> 8);
    return ~crc;
}

void SnapshotFile::add(std::string tag, std::uint32_t version, std::vector<std::uint8_t> payload) {
    m_sections.push_back({std::move(tag), version, std::move(payload)});
}

Result<const Section*> SnapshotFile::find(std::string_view tag) const {
    for (const Section& section : m_sections)
        if (section.tag == tag) return &section;
    return make_error("section '{}' missing", tag);
}

Result<std::span<const std::uint8_t>> SnapshotFile::payload(std::string_view tag,
                                                            std::uint32_t version) const {
    const Section* section = TRY(find(tag));
    if (section->version != version)
        return make_error("section '{}' has version {}, this Vessel reads version {}", tag,
                          section->version, version);
    return std::span<const std::uint8_t>(section->payload);
}

std::vector<std::uint8_t> SnapshotFile::encode() const {
    std::vector<std::uint8_t> out(magic, magic + sizeof(magic));
    put32(out, format_version);
    put32(out, static_cast<std::uint32_t>(m_sections.size()));
    put32(out, 0); // flags
    put32(out, 0); // reserved
    for (const Section& section : m_sections) {
        std::array<std::uint8_t, tag_length> tag{};
        std::memcpy(tag.data(), section.tag.data(), std::min(section.tag.size(), tag_length));
        out.insert(out.end(), tag.begin(), tag.end());
        put32(out, section.version);
        put32(out, 0); // reserved
        put64(out, section.payload.size());
        out.insert(out.end(), section.payload.begin(), section.payload.end());
    }
    put32(out, crc32(out));
    out.insert(out.end(), trailer_magic, trailer_magic + sizeof(trailer_magic));
    return out;
}

Result<SnapshotFile> SnapshotFile::decode(std::span<const std::uint8_t> bytes,
                                          std::string_view name) {
    if (bytes.size() < header_size + trailer_size)
        return make_error("snapshot {}: truncated ({} bytes; a state file has at least {})", name,
                          bytes.size(), header_size + trailer_size);
    if (std::memcmp(bytes.data(), magic, sizeof(magic)) != 0)
        return make_error("snapshot {}: not a Vessel state file (magic missing)", name);
    const std::uint32_t version = get32(bytes.data() + 8);
    if (version > format_version)
        return make_error("snapshot {}: format version {} is newer than this Vessel reads ({}); "
                          "restore it with a newer Vessel",
                          name, version, format_version);
    if (version != format_version)
        return make_error("snapshot {}: format version {} is not supported (this Vessel reads {})",
                          name, version, format_version);
    const std::uint8_t* trailer = bytes.data() + bytes.size() - trailer_size;
    if (std::memcmp(trailer + 4, trailer_magic, sizeof(trailer_magic)) != 0)
        return make_error("snapshot {}: truncated (end marker missing)", name);
    const std::uint32_t stored_crc = get32(trailer);
    const std::uint32_t actual_crc = crc32(bytes.first(bytes.size() - trailer_size));
    if (stored_crc != actual_crc)
        return make_error("snapshot {}: checksum mismatch (stored {:#010x}, computed {:#010x}): "
                          "the file is corrupted",
                          name, stored_crc, actual_crc);
    const std::uint32_t count = get32(bytes.data() + 12);
    if (count > max_sections)
        return make_error("snapshot {}: {} sections (at most {})", name, count, max_sections);
    SnapshotFile file;
    std::size_t position = header_size;
    const std::size_t end = bytes.size() - trailer_size;
    for (std::uint32_t index = 0; index < count; ++index) {
        if (end - position < section_header_size)
            return make_error("snapshot {}: section {} header runs past the end", name, index);
        const std::uint8_t* header = bytes.data() + position;
        std::string tag(reinterpret_cast<const char*>(header), // Sound: bytes as characters
                        strnlen(reinterpret_cast<const char*>(header), tag_length));
        if (!valid_tag(tag))
            return make_error("snapshot {}: section {} has a bad tag", name, index);
        const std::uint32_t section_version = get32(header + tag_length);
        const std::uint64_t length = get64(header + tag_length + 8);
        position += section_header_size;
        if (length > end - position)
            return make_error("snapshot {}: section '{}' ({} bytes) runs past the end", name, tag,
                              length);
        if (file.find(tag)) return make_error("snapshot {}: section '{}' appears twice", name, tag);
        file.add(std::move(tag), section_version,
                 {bytes.begin() + static_cast<std::ptrdiff_t>(position),
                  bytes.begin() + static_cast<std::ptrdiff_t>(position + length)});
        position += length;
    }
    if (position != end)
        return make_error("snapshot {}: {} bytes after the last section", name, end - position);
    return file;
}

Result<void> SnapshotFile::write(const std::string& path) const {
    const std::vector<std::uint8_t> bytes = encode();
    const std::string temporary = path + ".tmp";
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid())
        return make_error("snapshot {}: cannot create: {}", path, std::strerror(errno));
    std::size_t written = 0;
    while (written < bytes.size()) {
        const ssize_t result = ::write(fd.get(), bytes.data() + written, bytes.size() - written);
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0) {
            const int error = errno;
            ::unlink(temporary.c_str());
            return make_error("snapshot {}: cannot write: {}", path, std::strerror(error));
        }
        written += static_cast<std::size_t>(result);
    }
    if (::fsync(fd.get()) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        return make_error("snapshot {}: cannot write: {}", path, std::strerror(error));
    }
    return {};
}

Result<SnapshotFile> SnapshotFile::read(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return make_error("snapshot {}: cannot open: {}", path, std::strerror(errno));
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode))
        return make_error("snapshot {}: not a regular file", path);
    if (static_cast<std::uint64_t>(info.st_size) > max_file_size)
        return make_error("snapshot {}: {} bytes is too large for a state file (at most {})", path,
                          info.st_size, max_file_size);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(info.st_size));
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t result = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
        if (result < 0 && errno == EINTR) continue;
        if (result < 0)
            return make_error("snapshot {}: cannot read: {}", path, std::strerror(errno));
        if (result == 0) break;
        done += static_cast<std::size_t>(result);
    }
    bytes.resize(done);
    return decode(bytes, path);
}

} // namespace vessel::snapshot
