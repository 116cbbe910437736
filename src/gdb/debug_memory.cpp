// Debugger memory access, page by page, always through GuestMemory's checked accessors.
#include "gdb/debug_memory.hpp"

#include <algorithm>

namespace vessel::gdb {

namespace {

constexpr std::uint64_t page_size = 4096;

/// One page-bounded piece of an access: its guest-physical address and length.
struct Piece {
    std::uint64_t physical;
    std::uint64_t length;
};

Result<Piece> piece_at(const GuestMemory& memory, const x86::PagingMode& paging, bool physical,
                       std::uint64_t address, std::uint64_t remaining) {
    const std::uint64_t length = std::min(remaining, page_size - (address & (page_size - 1)));
    const std::uint64_t target =
        physical ? address : TRY(x86::translate_linear(memory, paging, address));
    if (!memory.contains(target, length))
        return make_error("address {:#x} (physical {:#x}) is not guest RAM", address, target);
    return Piece{target, length};
}

} // namespace

Result<std::vector<std::uint8_t>> read_debug_memory(const GuestMemory& memory,
                                                    const x86::PagingMode& paging, bool physical,
                                                    std::uint64_t address, std::uint64_t length) {
    if (length > max_memory_transfer)
        return make_error("a read of {} bytes is more than {}", length, max_memory_transfer);
    std::vector<std::uint8_t> out;
    out.reserve(length);
    while (out.size() < length) {
        const std::uint64_t at = address + out.size();
        auto piece = piece_at(memory, paging, physical, at, length - out.size());
        if (!piece) {
            if (out.empty()) return std::unexpected(piece.error());
            break; // a partial read: GDB takes what there is
        }
        const std::size_t old_size = out.size();
        out.resize(old_size + piece->length);
        TRY(memory.read_bytes(piece->physical, std::span(out).subspan(old_size)));
    }
    return out;
}

Result<void> write_debug_memory(GuestMemory& memory, const x86::PagingMode& paging, bool physical,
                                std::uint64_t address, std::span<const std::uint8_t> data) {
    if (data.size() > max_memory_transfer)
        return make_error("a write of {} bytes is more than {}", data.size(), max_memory_transfer);
    std::vector<Piece> pieces;
    for (std::uint64_t done = 0; done < data.size();) {
        const Piece piece =
            TRY(piece_at(memory, paging, physical, address + done, data.size() - done));
        pieces.push_back(piece);
        done += piece.length;
    }
    std::uint64_t done = 0;
    for (const Piece& piece : pieces) {
        TRY(memory.write_bytes(piece.physical, data.subspan(done, piece.length)));
        done += piece.length;
    }
    return {};
}

} // namespace vessel::gdb
