// ElfImage: the loadable segments and entry point of an ELF32 or ELF64 x86 executable.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"

namespace vessel::x86 {

/// One PT_LOAD program header, already checked against the file: the bytes
/// [file_offset, file_offset + file_size) exist and file_size <= memory_size.
struct ElfSegment {
    std::uint32_t index; ///< program header number, for error messages
    std::uint64_t file_offset;
    std::uint64_t file_size;
    std::uint64_t virtual_address;
    std::uint64_t physical_address;
    std::uint64_t memory_size;
};

struct ElfImage {
    bool is_64_bit;
    std::uint64_t entry;
    std::vector<ElfSegment> segments; ///< PT_LOAD segments with memory_size > 0

    /// Parses the ELF header and program headers (System V gABI, "ELF Header" and "Program
    /// Header"). Accepts little-endian ET_EXEC/ET_DYN for EM_386 (ELF32) or EM_X86_64 (ELF64).
    /// Errors name the offset of the offending field; the caller prefixes the file name.
    static Result<ElfImage> parse(std::span<const std::uint8_t> image);
};

/// True when the image starts with the ELF magic "\x7fELF".
bool has_elf_magic(std::span<const std::uint8_t> image);

} // namespace vessel::x86
