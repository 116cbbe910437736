// Multiboot v1 loader: ELF32/ELF64/a.out-kludge images built in memory, info structure, errors.
#include "arch/x86/multiboot_loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "arch/x86/boot_gdt.hpp"

namespace vessel::x86 {
namespace {

constexpr std::uint64_t mib = 1 << 20;
constexpr std::uint64_t header_file_offset = 0x100;
constexpr std::uint64_t first_segment_file_offset = 0x1000;

template <typename T> void put(std::vector<std::uint8_t>& bytes, std::uint64_t offset, T value) {
    if (bytes.size() < offset + sizeof(T)) bytes.resize(offset + sizeof(T));
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

void put_multiboot_header(std::vector<std::uint8_t>& image, std::uint64_t offset,
                          std::uint32_t flags) {
    put<std::uint32_t>(image, offset, multiboot::header_magic);
    put<std::uint32_t>(image, offset + 4, flags);
    put<std::uint32_t>(image, offset + 8, 0u - multiboot::header_magic - flags);
}

struct TestSegment {
    std::uint64_t physical_address;
    std::uint64_t virtual_address;
    std::vector<std::uint8_t> data;
    std::uint64_t memory_size;
};

std::vector<std::uint8_t> pattern(std::size_t size, std::uint8_t seed) {
    std::vector<std::uint8_t> bytes(size);
    for (std::size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<std::uint8_t>(seed + i * 7);
    return bytes;
}

/// An ELF executable with the given PT_LOAD segments (plus one PT_NOTE that must be skipped)
/// and a Multiboot header at file offset 0x100.
std::vector<std::uint8_t> make_elf(bool is_64_bit, std::uint64_t entry,
                                   const std::vector<TestSegment>& segments,
                                   std::uint32_t multiboot_flags = multiboot::flag_memory_info) {
    std::vector<std::uint8_t> image(first_segment_file_offset, 0);
    const std::uint8_t ident[] = {0x7f, 'E', 'L', 'F', std::uint8_t(is_64_bit ? 2 : 1), 1, 1};
    std::memcpy(image.data(), ident, sizeof(ident));
    put<std::uint16_t>(image, 16, 2);                  // ET_EXEC
    put<std::uint16_t>(image, 18, is_64_bit ? 62 : 3); // EM_X86_64 / EM_386
    put<std::uint32_t>(image, 20, 1);                  // EV_CURRENT
    std::uint64_t table = is_64_bit ? 64 : 52;
    std::uint16_t entry_size = is_64_bit ? 56 : 32;
    auto count = static_cast<std::uint16_t>(segments.size() + 1);
    if (is_64_bit) {
        put<std::uint64_t>(image, 24, entry);
        put<std::uint64_t>(image, 32, table);
        put<std::uint16_t>(image, 52, 64);
        put<std::uint16_t>(image, 54, entry_size);
        put<std::uint16_t>(image, 56, count);
    } else {
        put<std::uint32_t>(image, 24, static_cast<std::uint32_t>(entry));
        put<std::uint32_t>(image, 28, static_cast<std::uint32_t>(table));
        put<std::uint16_t>(image, 40, 52);
        put<std::uint16_t>(image, 42, entry_size);
        put<std::uint16_t>(image, 44, count);
    }
    // Header 0 is a PT_NOTE with nonsense addresses: the loader must ignore it.
    put<std::uint32_t>(image, table, 4);
    std::uint64_t file_offset = first_segment_file_offset;
    for (std::size_t index = 0; index < segments.size(); ++index) {
        const auto& segment = segments[index];
        auto header = table + (index + 1) * entry_size;
        put<std::uint32_t>(image, header, 1); // PT_LOAD
        if (is_64_bit) {
            put<std::uint64_t>(image, header + 8, file_offset);
            put<std::uint64_t>(image, header + 16, segment.virtual_address);
            put<std::uint64_t>(image, header + 24, segment.physical_address);
            put<std::uint64_t>(image, header + 32, segment.data.size());
            put<std::uint64_t>(image, header + 40, segment.memory_size);
        } else {
            put<std::uint32_t>(image, header + 4, static_cast<std::uint32_t>(file_offset));
            put<std::uint32_t>(image, header + 8,
                               static_cast<std::uint32_t>(segment.virtual_address));
            put<std::uint32_t>(image, header + 12,
                               static_cast<std::uint32_t>(segment.physical_address));
            put<std::uint32_t>(image, header + 16, static_cast<std::uint32_t>(segment.data.size()));
            put<std::uint32_t>(image, header + 20, static_cast<std::uint32_t>(segment.memory_size));
        }
        image.resize(file_offset);
        image.insert(image.end(), segment.data.begin(), segment.data.end());
        file_offset = (image.size() + 0xfff) & ~std::uint64_t{0xfff};
    }
    put_multiboot_header(image, header_file_offset, multiboot_flags);
    return image;
}

/// The standard test kernel: code at 1 MiB (0x3000 bytes + 0x2000 bss), data at 1 MiB + 16 KiB.
std::vector<TestSegment> standard_segments() {
    return {{0x100000, 0x100000, pattern(0x3000, 1), 0x5000},
            {0x106000, 0x106000, pattern(0x800, 2), 0x800}};
}

std::string read_string(const GuestMemory& memory, std::uint64_t address) {
    std::string text;
    for (;;) {
        auto byte = memory.read<char>(address++).value();
        if (byte == 0) return text;
        text += byte;
    }
}

std::uint32_t read32(const GuestMemory& memory, std::uint64_t address) {
    return memory.read<std::uint32_t>(address).value();
}

std::vector<std::uint8_t> read_bytes(const GuestMemory& memory, std::uint64_t address,
                                     std::size_t size) {
    std::vector<std::uint8_t> bytes(size);
    EXPECT_TRUE(memory.read_bytes(address, bytes));
    return bytes;
}

GuestMemory make_memory(std::uint64_t size = 64 * mib) {
    auto memory = GuestMemory::create(size).value();
    // Garbage where test kernels, modules and boot data go, so the tests see what is written.
    EXPECT_TRUE(memory.fill(0, 0xcc, std::min<std::uint64_t>(size, 4 * mib)));
    return memory;
}

TEST(MultibootLoader, FindsHeaderOnlyWithValidChecksumInFirst8KiB) {
    std::vector<std::uint8_t> image(0x4000, 0);
    EXPECT_FALSE(has_multiboot_header(image));
    put_multiboot_header(image, 0x1ffc - 8, 0); // ends exactly at 8 KiB
    EXPECT_TRUE(has_multiboot_header(image));

    std::vector<std::uint8_t> late(0x4000, 0);
    put_multiboot_header(late, 0x2000, 0);
    EXPECT_FALSE(has_multiboot_header(late));

    std::vector<std::uint8_t> unaligned(0x100, 0);
    put_multiboot_header(unaligned, 0x22, 0);
    EXPECT_FALSE(has_multiboot_header(unaligned));

    std::vector<std::uint8_t> bad_checksum(0x100, 0);
    put_multiboot_header(bad_checksum, 0x20, 0);
    put<std::uint32_t>(bad_checksum, 0x28, 0x12345678);
    EXPECT_FALSE(has_multiboot_header(bad_checksum));
    EXPECT_FALSE(has_multiboot_header({}));
}

TEST(MultibootLoader, LoadsElf32SegmentsAndZeroesBss) {
    auto memory = make_memory();
    auto segments = standard_segments();
    auto image = make_elf(false, 0x100010, segments);
    auto state = load_multiboot(memory, image, "guest.elf", "", {});
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(read_bytes(memory, 0x100000, 0x3000), segments[0].data);
    EXPECT_EQ(read_bytes(memory, 0x103000, 0x2000), std::vector<std::uint8_t>(0x2000, 0));
    EXPECT_EQ(read_bytes(memory, 0x106000, 0x800), segments[1].data);
    EXPECT_EQ(memory.read<std::uint8_t>(0x105000).value(), 0xcc); // between segments: untouched
    EXPECT_EQ(state->rip, 0x100010u);
}

TEST(MultibootLoader, EntryStateIsFlatProtectedModeWithMatchingGdt) {
    auto memory = make_memory();
    auto image = make_elf(false, 0x100010, standard_segments());
    auto state = load_multiboot(memory, image, "guest.elf", "", {}).value();
    EXPECT_EQ(state.gpr[rax], multiboot::bootloader_magic);
    EXPECT_EQ(state.cr0 & (cr0::pe | cr0::pg), cr0::pe);
    EXPECT_EQ(state.efer, 0u);
    EXPECT_EQ(state.rflags, rflags::fixed1); // IF=0, VM=0
    EXPECT_EQ(state.cs.base, 0u);
    EXPECT_EQ(state.cs.limit, 0xffffffffu);
    EXPECT_TRUE(state.cs.default_big);
    EXPECT_FALSE(state.cs.long_mode);
    EXPECT_EQ(state.cs.type, 0xb);
    for (const auto* segment : {&state.ds, &state.es, &state.fs, &state.gs, &state.ss}) {
        EXPECT_EQ(segment->selector, state.ds.selector);
        EXPECT_EQ(segment->base, 0u);
        EXPECT_EQ(segment->limit, 0xffffffffu);
        EXPECT_EQ(segment->type, 0x3);
    }
    // The GDT in guest memory holds the same descriptors: flat 32-bit code and data.
    ASSERT_GE(state.gdt.limit + 1u, state.ds.selector + 8u);
    EXPECT_EQ(memory.read<std::uint64_t>(state.gdt.base).value(), 0u);
    EXPECT_EQ(memory.read<std::uint64_t>(state.gdt.base + state.cs.selector).value(),
              0x00cf9b000000ffffu);
    EXPECT_EQ(memory.read<std::uint64_t>(state.gdt.base + state.ds.selector).value(),
              0x00cf93000000ffffu);
    EXPECT_EQ(memory.read<std::uint64_t>(state.gdt.base + state.tr.selector).value(),
              encode_segment_descriptor(state.tr));
    EXPECT_TRUE(state.tr.system);
    EXPECT_EQ(state.tr.type, tss_busy);
    // Boot data stays clear of the kernel.
    EXPECT_TRUE(state.gdt.base + state.gdt.limit < 0x100000 || state.gdt.base >= 0x106800);
}

TEST(MultibootLoader, InfoStructureDescribesMemoryCommandLineAndLoader) {
    auto memory = make_memory(64 * mib);
    auto image = make_elf(false, 0x100000, standard_segments());
    auto state = load_multiboot(memory, image, "guest.elf", "console=ttyS0 quiet", {}).value();
    auto info = state.gpr[rbx];
    ASSERT_LT(info, 0x9fc00u); // low memory, below the EBDA
    auto flags = read32(memory, info);
    EXPECT_EQ(flags, multiboot::info_memory | multiboot::info_command_line |
                         multiboot::info_modules | multiboot::info_memory_map |
                         multiboot::info_boot_loader_name);
    EXPECT_EQ(read32(memory, info + 4), 639u);             // mem_lower, KiB
    EXPECT_EQ(read32(memory, info + 8), (64 - 1) * 1024u); // mem_upper, KiB from 1 MiB
    EXPECT_EQ(read_string(memory, read32(memory, info + 16)), "guest.elf console=ttyS0 quiet");
    EXPECT_EQ(read_string(memory, read32(memory, info + 64)), "Vessel");
    EXPECT_EQ(read32(memory, info + 20), 0u); // mods_count

    // mmap: entries with a size field before each (the size does not count itself).
    auto length = read32(memory, info + 44);
    auto address = read32(memory, info + 48);
    struct Entry {
        std::uint64_t base, size;
        std::uint32_t type;
    };
    std::vector<Entry> entries;
    for (std::uint64_t cursor = address; cursor < address + length;) {
        auto size = read32(memory, cursor);
        ASSERT_EQ(size, 20u);
        entries.push_back({memory.read<std::uint64_t>(cursor + 4).value(),
                           memory.read<std::uint64_t>(cursor + 12).value(),
                           read32(memory, cursor + 20)});
        cursor += size + 4;
    }
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].base, 0u);
    EXPECT_EQ(entries[0].size, 0x9fc00u);
    EXPECT_EQ(entries[0].type, 1u);
    EXPECT_EQ(entries[1].base, 0x9fc00u);
    EXPECT_EQ(entries[1].size, 0x100000u - 0x9fc00u);
    EXPECT_EQ(entries[1].type, 2u);
    EXPECT_EQ(entries[2].base, 0x100000u);
    EXPECT_EQ(entries[2].size, 63 * mib);
    EXPECT_EQ(entries[2].type, 1u);
}

TEST(MultibootLoader, CommandLineWithoutArgumentsIsTheImagePath) {
    auto memory = make_memory();
    auto image = make_elf(false, 0x100000, standard_segments());
    auto state = load_multiboot(memory, image, "/boot/guest.elf", "", {}).value();
    EXPECT_EQ(read_string(memory, read32(memory, state.gpr[rbx] + 16)), "/boot/guest.elf");
}

TEST(MultibootLoader, ModulesArePageAlignedAboveTheKernelWithTheirStrings) {
    auto memory = make_memory();
    auto image = make_elf(false, 0x100000, standard_segments(),
                          multiboot::flag_page_align_modules | multiboot::flag_memory_info);
    auto first = pattern(0x1234, 9);
    auto second = pattern(10, 77);
    std::vector<BootModule> modules = {{"initrd.img root=/dev/ram", first}, {"second.bin", second}};
    auto state = load_multiboot(memory, image, "guest.elf", "", modules).value();
    auto info = state.gpr[rbx];
    ASSERT_EQ(read32(memory, info + 20), 2u);
    auto list = read32(memory, info + 24);
    std::uint64_t previous_end = 0x106800; // end of the kernel
    for (std::size_t index = 0; index < 2; ++index) {
        auto start = read32(memory, list + index * 16);
        auto end = read32(memory, list + index * 16 + 4);
        EXPECT_EQ(start % 4096, 0u);
        EXPECT_GE(start, previous_end);
        EXPECT_EQ(end - start, modules[index].data.size());
        EXPECT_EQ(
            read_bytes(memory, start, end - start),
            std::vector<std::uint8_t>(modules[index].data.begin(), modules[index].data.end()));
        EXPECT_EQ(read_string(memory, read32(memory, list + index * 16 + 8)),
                  modules[index].command_line);
        EXPECT_EQ(read32(memory, list + index * 16 + 12), 0u);
        previous_end = end;
    }
}

TEST(MultibootLoader, Elf64HigherHalfEntryIsTranslatedToPhysical) {
    auto memory = make_memory();
    constexpr std::uint64_t virtual_base = 0xffffffff80000000;
    std::vector<TestSegment> segments = {
        {0x200000, virtual_base + 0x200000, pattern(0x1800, 3), 0x2000}};
    auto image = make_elf(true, virtual_base + 0x200040, segments);
    auto state = load_multiboot(memory, image, "kernel64.elf", "", {});
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(state->rip, 0x200040u);
    EXPECT_EQ(read_bytes(memory, 0x200000, 0x1800), segments[0].data);
    EXPECT_EQ(read_bytes(memory, 0x201800, 0x800), std::vector<std::uint8_t>(0x800, 0));
}

/// A flat binary with the Multiboot header and address fields at file offset 0x40.
std::vector<std::uint8_t> make_aout_kludge(std::uint32_t load_end, std::uint32_t bss_end) {
    auto image = pattern(0x2100, 5);
    constexpr std::uint32_t flags = multiboot::flag_address_fields | multiboot::flag_memory_info;
    put_multiboot_header(image, 0x40, flags);
    put<std::uint32_t>(image, 0x4c, 0x100040); // header_addr
    put<std::uint32_t>(image, 0x50, 0x100000); // load_addr
    put<std::uint32_t>(image, 0x54, load_end);
    put<std::uint32_t>(image, 0x58, bss_end);
    put<std::uint32_t>(image, 0x5c, 0x100080); // entry_addr
    return image;
}

TEST(MultibootLoader, AoutKludgeLoadsWholeFileAndBss) {
    auto memory = make_memory();
    auto image = make_aout_kludge(0, 0x104000);
    auto state = load_multiboot(memory, image, "flat.bin", "", {});
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(state->rip, 0x100080u);
    EXPECT_EQ(read_bytes(memory, 0x100000, image.size()), image);
    EXPECT_EQ(read_bytes(memory, 0x102100, 0x104000 - 0x102100),
              std::vector<std::uint8_t>(0x104000 - 0x102100, 0));
    EXPECT_EQ(memory.read<std::uint8_t>(0x104000).value(), 0xcc);
}

TEST(MultibootLoader, AoutKludgeHonoursLoadEndAndTakesPrecedenceOverElf) {
    auto memory = make_memory();
    auto image = make_aout_kludge(0x101000, 0);
    image[0] = 0x7f, image[1] = 'E', image[2] = 'L', image[3] = 'F'; // looks like ELF too
    auto state = load_multiboot(memory, image, "flat.bin", "", {});
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(read_bytes(memory, 0x100000, 0x1000),
              std::vector<std::uint8_t>(image.begin(), image.begin() + 0x1000));
    EXPECT_EQ(memory.read<std::uint8_t>(0x101000).value(), 0xcc);
}

std::string load_error(std::span<const std::uint8_t> image, std::uint64_t ram = 64 * mib,
                       std::span<const BootModule> modules = {}) {
    auto memory = GuestMemory::create(ram).value();
    auto result = load_multiboot(memory, image, "guest.elf", "", modules);
    if (result) return "loaded";
    return result.error().message;
}

TEST(MultibootLoader, RejectsEmptyFileAndMissingHeader) {
    EXPECT_EQ(load_error({}), "multiboot guest.elf: file is empty");
    std::vector<std::uint8_t> zeros(0x3000, 0);
    EXPECT_NE(load_error(zeros).find("no Multiboot header"), std::string::npos);
    auto image = make_elf(false, 0x100000, standard_segments());
    put<std::uint32_t>(image, header_file_offset + 8, 0); // bad checksum
    EXPECT_NE(load_error(image).find("no Multiboot header"), std::string::npos);
}

TEST(MultibootLoader, RejectsUnknownRequiredFlags) {
    auto image = make_elf(false, 0x100000, standard_segments(), 1u << 5);
    EXPECT_NE(load_error(image).find("unsupported features (flags 0x20)"), std::string::npos);
    // Unknown optional bits (16-31 other than 16) are fine.
    auto optional = make_elf(false, 0x100000, standard_segments(), 1u << 20);
    EXPECT_EQ(load_error(optional), "loaded");
}

TEST(MultibootLoader, RejectsTruncatedProgramHeaderTable) {
    auto image = make_elf(false, 0x100000, standard_segments());
    put<std::uint32_t>(image, 28, static_cast<std::uint32_t>(image.size() - 40)); // e_phoff
    auto error = load_error(image);
    EXPECT_NE(error.find("multiboot guest.elf: program header table"), std::string::npos) << error;
    EXPECT_NE(error.find("past the end of the file"), std::string::npos) << error;
}

TEST(MultibootLoader, RejectsSegmentBeyondFile) {
    auto image = make_elf(false, 0x100000, standard_segments());
    put<std::uint32_t>(image, 52 + 2 * 32 + 16, 0x100000); // header 2: p_filesz
    put<std::uint32_t>(image, 52 + 2 * 32 + 20, 0x100000); // p_memsz
    auto error = load_error(image);
    EXPECT_NE(error.find("program header 2"), std::string::npos) << error;
    EXPECT_NE(error.find("extends past the end of the file"), std::string::npos) << error;
    // An offset that wraps around 32 bits must not pass the check either.
    put<std::uint32_t>(image, 52 + 2 * 32 + 4, 0xfffff000);
    EXPECT_NE(load_error(image).find("extends past the end"), std::string::npos);
}

TEST(MultibootLoader, RejectsSegmentOutsideRam) {
    std::vector<TestSegment> segments = {{0x10000000, 0x10000000, pattern(0x100, 1), 0x2000}};
    auto image = make_elf(false, 0x10000000, segments);
    EXPECT_EQ(load_error(image, 256 * mib),
              "multiboot guest.elf: program header 1 loads 0x10000000+0x2000 outside guest RAM "
              "below 4 GiB (256 MiB)");
    // A segment straddling the end of RAM is refused too.
    std::vector<TestSegment> straddling = {{0x3fff000, 0x3fff000, pattern(0x100, 1), 0x2000}};
    EXPECT_NE(load_error(make_elf(false, 0x3fff000, straddling)).find("outside guest RAM"),
              std::string::npos);
}

TEST(MultibootLoader, RejectsSegmentInReservedLowArea) {
    std::vector<TestSegment> segments = {{0xe0000, 0xe0000, pattern(0x100, 1), 0x100}};
    EXPECT_NE(load_error(make_elf(false, 0xe0000, segments)).find("reserves"), std::string::npos);
}

TEST(MultibootLoader, RejectsEntryAbove4GiB) {
    std::vector<TestSegment> segments = {{0x200000, 0x200000, pattern(0x100, 1), 0x100}};
    auto image = make_elf(true, 0x100000000, segments);
    EXPECT_EQ(load_error(image),
              "multiboot guest.elf: entry point 0x100000000 (e_entry at 0x18) is above 4 GiB");
}

TEST(MultibootLoader, RejectsWrongMachineAndBadAddressFields) {
    auto image = make_elf(false, 0x100000, standard_segments());
    put<std::uint16_t>(image, 18, 40); // EM_ARM
    EXPECT_NE(load_error(image).find("machine 40 at 0x12"), std::string::npos);

    auto flat = make_aout_kludge(0, 0);
    put<std::uint32_t>(flat, 0x50, 0x0f0000); // load_addr far below header_addr
    EXPECT_NE(load_error(flat).find("more than the header's file offset"), std::string::npos);
    auto beyond = make_aout_kludge(0x180000, 0); // load_end past the file
    EXPECT_NE(load_error(beyond).find("past the end of the file"), std::string::npos);
    auto bss = make_aout_kludge(0x101000, 0x100800); // bss_end before load_end
    EXPECT_NE(load_error(bss).find("bss_end_addr"), std::string::npos);
}

TEST(MultibootLoader, RejectsModuleThatDoesNotFit) {
    auto image = make_elf(false, 0x100000, standard_segments());
    std::vector<std::uint8_t> big(2 * mib, 1);
    std::vector<BootModule> modules = {{"big.img", big}};
    auto error = load_error(image, 2 * mib, modules);
    EXPECT_NE(error.find("module 0 (big.img)"), std::string::npos) << error;
}

TEST(MultibootLoader, SurvivesTruncatedAndCorruptedImages) {
    auto original = make_elf(true, 0x100000, standard_segments());
    auto memory = GuestMemory::create(16 * mib).value();
    for (std::size_t size = 0; size < original.size(); size += 7) {
        std::span<const std::uint8_t> prefix(original.data(), size);
        auto result = load_multiboot(memory, prefix, "cut.elf", "", {});
        if (size < 0x1000) {
            EXPECT_FALSE(result) << size; // segments lie past 0x1000
        }
    }
    std::mt19937 random(1234);
    for (int round = 0; round < 3000; ++round) {
        auto image = original;
        for (int flip = 0; flip < 4; ++flip) {
            auto offset = random() % 0x180; // headers and program headers
            image[offset] = static_cast<std::uint8_t>(random());
        }
        (void)load_multiboot(memory, image, "fuzz.elf", "", {});
    }
}

} // namespace
} // namespace vessel::x86
