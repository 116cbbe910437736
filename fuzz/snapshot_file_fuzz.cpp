// libFuzzer target: hostile snapshot state files. Each input is decoded three ways: as it is
// (header, checksum and structure checks), with its header and trailer repaired so the section
// parser and the section readers see arbitrary contents past the checksum, and as the payload
// of the `machine` section. Nothing may crash, hang or allocate without bound.
#include <cstdint>
#include <cstring>
#include <vector>

#include "vm/snapshot/machine_config_state.hpp"
#include "vm/snapshot/snapshot_file.hpp"

namespace {

using namespace vessel;
using namespace vessel::snapshot;

/// The input with a valid magic, version and trailer: only its sections can be wrong.
std::vector<std::uint8_t> repaired(const std::uint8_t* data, std::size_t size) {
    std::vector<std::uint8_t> bytes(data, data + size);
    if (bytes.size() < SnapshotFile::header_size) bytes.resize(SnapshotFile::header_size);
    std::memcpy(bytes.data(), SnapshotFile::magic, sizeof(SnapshotFile::magic));
    const std::uint32_t version = SnapshotFile::format_version;
    std::memcpy(bytes.data() + 8, &version, 4);
    bytes[13] = bytes[14] = bytes[15] = 0; // at most 255 sections
    const std::uint32_t crc = crc32(bytes);
    bytes.insert(bytes.end(), reinterpret_cast<const std::uint8_t*>(&crc),
                 reinterpret_cast<const std::uint8_t*>(&crc) + 4);
    bytes.insert(bytes.end(), {'V', 'E', 'N', 'D'});
    return bytes;
}

void read_sections(const SnapshotFile& file) {
    for (const Section& section : file.sections())
        if (section.tag == "machine") (void)decode_machine(section.payload);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (auto file = SnapshotFile::decode({data, size}, "fuzz.state")) read_sections(*file);
    const auto bytes = repaired(data, size);
    if (auto file = SnapshotFile::decode(bytes, "fuzz.state")) {
        read_sections(*file);
        (void)file->encode();
    }
    (void)decode_machine({data, size});
    return 0;
}
