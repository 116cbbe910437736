// Linux bzImage loader: synthetic images built in memory, boot_params, page tables, errors.
#include "arch/x86/bzimage_loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "arch/x86/boot_layout.hpp"

namespace vessel::x86 {
namespace {

using namespace linux_boot;
constexpr std::uint64_t mib = 1 << 20;

template <typename T> void put(std::vector<std::uint8_t>& bytes, std::uint64_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

struct ImageOptions {
    std::uint8_t setup_sects = 4;
    std::uint64_t kernel_size = 0x3000;
    std::uint16_t version = 0x020f;
    std::uint8_t loadflags = loadflags_loaded_high;
    std::uint16_t xloadflags = xloadflags_kernel_64 | 2;
    std::uint8_t relocatable = 1;
    std::uint32_t kernel_alignment = 0x200000;
    std::uint64_t pref_address = 0x1000000;
    std::uint32_t init_size = 0x400000;
    std::uint32_t cmdline_size = 2047;
    std::uint32_t initrd_addr_max = 0x7fffffff;
};

/// A bzImage whose setup code is zeros around a real setup header and whose protected-mode
/// kernel is a byte pattern.
std::vector<std::uint8_t> make_bzimage(const ImageOptions& options = {}) {
    auto setup_size = (std::uint64_t{options.setup_sects ? options.setup_sects : 4u} + 1) * 512;
    std::vector<std::uint8_t> image(setup_size + options.kernel_size, 0);
    image[setup_sects] = options.setup_sects;
    put<std::uint32_t>(image, syssize, static_cast<std::uint32_t>(options.kernel_size / 16));
    put<std::uint16_t>(image, boot_flag, boot_flag_magic);
    image[jump] = 0xeb;
    image[jump + 1] = 0x6a; // header ends at 0x26c, as in Linux 6.x
    put<std::uint32_t>(image, header, header_magic);
    put<std::uint16_t>(image, version, options.version);
    image[loadflags] = options.loadflags;
    put<std::uint32_t>(image, code32_start, 0x100000);
    put<std::uint32_t>(image, initrd_addr_max, options.initrd_addr_max);
    put<std::uint32_t>(image, kernel_alignment, options.kernel_alignment);
    image[relocatable_kernel] = options.relocatable;
    put<std::uint16_t>(image, xloadflags, options.xloadflags);
    put<std::uint32_t>(image, cmdline_size, options.cmdline_size);
    put<std::uint64_t>(image, pref_address, options.pref_address);
    put<std::uint32_t>(image, init_size, options.init_size);
    for (std::uint64_t i = 0; i < options.kernel_size; ++i)
        image[setup_size + i] = static_cast<std::uint8_t>(i * 13 + 5);
    return image;
}

std::span<const std::uint8_t> kernel_part(const std::vector<std::uint8_t>& image) {
    auto setup_size = (std::uint64_t{image[setup_sects] ? image[setup_sects] : 4u} + 1) * 512;
    return std::span<const std::uint8_t>(image).subspan(setup_size);
}

std::vector<std::uint8_t> read_bytes(const GuestMemory& memory, std::uint64_t address,
                                     std::size_t size) {
    std::vector<std::uint8_t> bytes(size);
    EXPECT_TRUE(memory.read_bytes(address, bytes));
    return bytes;
}

template <typename T> T zero_page(const GuestMemory& memory, std::uint64_t offset) {
    return memory.read<T>(boot_layout::zero_page_address + offset).value();
}

GuestMemory make_memory(std::uint64_t size = 64 * mib) {
    // Garbage below 24 MiB (kernel, zero page, tables), so the tests see what is written.
    auto memory = GuestMemory::create(size).value();
    EXPECT_TRUE(memory.fill(0, 0xcc, std::min<std::uint64_t>(size, 24 * mib)));
    return memory;
}

TEST(BzImageLoader, LoadsKernelAtPreferredAddressAndFillsBootParams) {
    auto memory = make_memory();
    auto image = make_bzimage();
    auto state = load_bzimage(memory, image, "kernel.img", "console=ttyS0 panic=-1", {}, "");
    ASSERT_TRUE(state) << state.error().message;
    auto kernel = kernel_part(image);
    EXPECT_EQ(read_bytes(memory, 0x1000000, kernel.size()),
              std::vector<std::uint8_t>(kernel.begin(), kernel.end()));

    // The file's setup header is copied, then the loader's fields are filled in.
    EXPECT_EQ(zero_page<std::uint32_t>(memory, header), header_magic);
    EXPECT_EQ(zero_page<std::uint16_t>(memory, version), 0x020f);
    EXPECT_EQ(zero_page<std::uint64_t>(memory, pref_address), 0x1000000u);
    EXPECT_EQ(zero_page<std::uint8_t>(memory, type_of_loader), 0xff);
    EXPECT_EQ(zero_page<std::uint16_t>(memory, vid_mode), 0xffff);
    EXPECT_EQ(zero_page<std::uint32_t>(memory, code32_start), 0x1000000u);
    EXPECT_EQ(zero_page<std::uint32_t>(memory, ramdisk_image), 0u);
    EXPECT_EQ(zero_page<std::uint32_t>(memory, ramdisk_size), 0u);
    EXPECT_EQ(zero_page<std::uint8_t>(memory, 0x1ef), 0u); // sentinel
    EXPECT_EQ(zero_page<std::uint64_t>(memory, 0), 0u);    // screen_info not copied from garbage
    auto command_line_address = zero_page<std::uint32_t>(memory, cmd_line_ptr);
    EXPECT_EQ(command_line_address, boot_layout::command_line_address);
    EXPECT_EQ(zero_page<std::uint32_t>(memory, ext_cmd_line_ptr), 0u);
    std::string command_line(22, '\0');
    ASSERT_TRUE(memory.read_bytes(command_line_address,
                                  {reinterpret_cast<std::uint8_t*>(command_line.data()), 22}));
    EXPECT_EQ(command_line, "console=ttyS0 panic=-1");
    EXPECT_EQ(memory.read<std::uint8_t>(command_line_address + 22).value(), 0);
}

TEST(BzImageLoader, ZeroPageCarriesTheE820Map) {
    auto memory = make_memory(64 * mib);
    ASSERT_TRUE(load_bzimage(memory, make_bzimage(), "kernel.img", "", {}, ""));
    ASSERT_EQ(zero_page<std::uint8_t>(memory, e820_entries), 3);
    struct Expected {
        std::uint64_t address, size;
        std::uint32_t type;
    };
    const Expected expected[] = {{0, 0x9fc00, 1}, {0x9fc00, 0x60400, 2}, {0x100000, 63 * mib, 1}};
    for (int index = 0; index < 3; ++index) {
        auto entry = e820_table + index * 20;
        EXPECT_EQ(zero_page<std::uint64_t>(memory, entry), expected[index].address);
        EXPECT_EQ(zero_page<std::uint64_t>(memory, entry + 8), expected[index].size);
        EXPECT_EQ(zero_page<std::uint32_t>(memory, entry + 16), expected[index].type);
    }
    EXPECT_EQ(zero_page<std::uint64_t>(memory, e820_table + 3 * 20), 0u);
}

TEST(BzImageLoader, FallsBackTo1MiBWhenPreferredAddressDoesNotFit) {
    auto memory = make_memory(16 * mib); // 16 MiB + init_size is beyond RAM
    auto image = make_bzimage();
    auto state = load_bzimage(memory, image, "kernel.img", "", {}, "");
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(state->rip, 0x100000u + 0x200);
    EXPECT_EQ(memory.read<std::uint8_t>(0x100000).value(), kernel_part(image)[0]);
    EXPECT_EQ(zero_page<std::uint32_t>(memory, code32_start), 0x100000u);
}

TEST(BzImageLoader, NonRelocatableKernelLoadsAt1MiB) {
    auto memory = make_memory();
    ImageOptions options;
    options.relocatable = 0;
    auto state = load_bzimage(memory, make_bzimage(options), "kernel.img", "", {}, "");
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(state->rip, 0x100200u);
}

TEST(BzImageLoader, InitrdGoesHighestBelowTheLimitsPageAligned) {
    std::vector<std::uint8_t> initrd(0x1800);
    for (std::size_t i = 0; i < initrd.size(); ++i)
        initrd[i] = static_cast<std::uint8_t>(i * 3);
    {
        auto memory = make_memory(64 * mib);
        ASSERT_TRUE(load_bzimage(memory, make_bzimage(), "kernel.img", "", initrd, "initrd.img"));
        EXPECT_EQ(zero_page<std::uint32_t>(memory, ramdisk_image), 64 * mib - 0x2000);
        EXPECT_EQ(zero_page<std::uint32_t>(memory, ramdisk_size), 0x1800u);
        EXPECT_EQ(read_bytes(memory, 64 * mib - 0x2000, initrd.size()), initrd);
    }
    {
        auto memory = make_memory(64 * mib);
        ImageOptions options;
        options.initrd_addr_max = 0x1ffffff; // highest byte the initrd may occupy
        ASSERT_TRUE(
            load_bzimage(memory, make_bzimage(options), "kernel.img", "", initrd, "initrd.img"));
        EXPECT_EQ(zero_page<std::uint32_t>(memory, ramdisk_image), 0x2000000u - 0x2000);
    }
}

TEST(BzImageLoader, InitrdAvoidsTheKernelArea) {
    // Kernel at 16 MiB with 4 MiB init_size (runtime area 16-20 MiB); initrd limit 20 MiB.
    auto memory = make_memory(64 * mib);
    ImageOptions options;
    options.initrd_addr_max = 20 * mib - 1;
    std::vector<std::uint8_t> initrd(0x3000, 0x5a);
    ASSERT_TRUE(
        load_bzimage(memory, make_bzimage(options), "kernel.img", "", initrd, "initrd.img"));
    EXPECT_EQ(zero_page<std::uint32_t>(memory, ramdisk_image), 16 * mib - 0x3000);
}

/// Walks the 4-level tables like the MMU with 2 MiB pages; returns the physical address.
std::uint64_t translate(const GuestMemory& memory, std::uint64_t cr3, std::uint64_t linear) {
    auto pml4e = memory.read<std::uint64_t>(cr3 + ((linear >> 39) & 511) * 8).value();
    EXPECT_EQ(pml4e & 3, 3u);
    auto pdpte =
        memory.read<std::uint64_t>((pml4e & ~0xfffull) + ((linear >> 30) & 511) * 8).value();
    EXPECT_EQ(pdpte & 3, 3u);
    EXPECT_EQ(pdpte & 0x80, 0u); // no 1 GiB pages
    auto pde = memory.read<std::uint64_t>((pdpte & ~0xfffull) + ((linear >> 21) & 511) * 8).value();
    EXPECT_EQ(pde & 0x83, 0x83u); // present, writable, 2 MiB page
    return (pde & ~0x1fffffull) + (linear & 0x1fffff);
}

TEST(BzImageLoader, EntersLongModeWithIdentityPageTablesAndBootGdt) {
    auto memory = make_memory();
    auto state = load_bzimage(memory, make_bzimage(), "kernel.img", "", {}, "").value();
    EXPECT_EQ(state.rip, 0x1000200u);
    EXPECT_EQ(state.gpr[rsi], boot_layout::zero_page_address);
    EXPECT_EQ(state.cr0 & (cr0::pe | cr0::pg), cr0::pe | cr0::pg);
    EXPECT_EQ(state.cr4 & cr4::pae, cr4::pae);
    EXPECT_EQ(state.efer & (efer::lme | efer::lma), efer::lme | efer::lma);
    EXPECT_EQ(state.rflags & rflags::if_, 0u);
    EXPECT_EQ(state.cs.selector, 0x10);
    EXPECT_TRUE(state.cs.long_mode);
    EXPECT_FALSE(state.cs.default_big);
    EXPECT_EQ(state.ds.selector, 0x18);
    EXPECT_EQ(state.ss.selector, 0x18);
    EXPECT_EQ(memory.read<std::uint64_t>(state.gdt.base + 0x10).value(), 0x00af9b000000ffffu);
    EXPECT_EQ(memory.read<std::uint64_t>(state.gdt.base + 0x18).value(), 0x00cf93000000ffffu);
    EXPECT_GE(state.gdt.limit, 0x1fu);
    for (std::uint64_t address : {0x0ull, 0x7000ull, 0x1000200ull, 0x12345678ull, 0xbfffffffull,
                                  0xfee00000ull, 0xffffffffull})
        EXPECT_EQ(translate(memory, state.cr3, address), address) << std::hex << address;
}

TEST(BzImageLoader, KernelWithout64BitEntryStartsIn32BitProtectedMode) {
    auto memory = make_memory();
    ImageOptions options;
    options.xloadflags = 0;
    auto state = load_bzimage(memory, make_bzimage(options), "kernel.img", "", {}, "").value();
    EXPECT_EQ(state.rip, 0x1000000u);
    EXPECT_EQ(state.cr0 & (cr0::pe | cr0::pg), cr0::pe);
    EXPECT_EQ(state.efer, 0u);
    EXPECT_FALSE(state.cs.long_mode);
    EXPECT_EQ(state.gpr[rsi], boot_layout::zero_page_address);
    EXPECT_EQ(memory.read<std::uint64_t>(state.gdt.base + 0x10).value(), 0x00cf9b000000ffffu);
}

std::string load_error(const std::vector<std::uint8_t>& image, std::string_view command_line = "",
                       std::span<const std::uint8_t> initrd = {}, std::uint64_t ram = 64 * mib) {
    auto memory = GuestMemory::create(ram).value();
    auto result = load_bzimage(memory, image, "kernel.img", command_line, initrd, "initrd.img");
    return result ? "loaded" : result.error().message;
}

TEST(BzImageLoader, RejectsMissingHeaderMagic) {
    auto image = make_bzimage();
    put<std::uint32_t>(image, header, 0);
    EXPECT_EQ(load_error(image), "bzImage kernel.img: setup header magic missing at 0x202");
    EXPECT_EQ(load_error({}), "bzImage kernel.img: file is empty");
    EXPECT_EQ(load_error(std::vector<std::uint8_t>(0x100, 0)),
              "bzImage kernel.img: file of 0x100 bytes is truncated before the setup header at "
              "0x1f1");
}

TEST(BzImageLoader, RejectsOldProtocolAndZImage) {
    ImageOptions old;
    old.version = 0x0204;
    EXPECT_EQ(load_error(make_bzimage(old)),
              "bzImage kernel.img: boot protocol 2.04 at 0x206 is older than the supported 2.06");
    ImageOptions low;
    low.loadflags = 0;
    EXPECT_NE(load_error(make_bzimage(low)).find("LOADED_HIGH"), std::string::npos);
}

TEST(BzImageLoader, RejectsTruncatedImages) {
    auto image = make_bzimage();
    image.resize(image.size() - 16);
    auto error = load_error(image);
    EXPECT_NE(error.find("protected-mode kernel truncated"), std::string::npos) << error;

    auto short_setup = make_bzimage();
    short_setup.resize(0x700); // setup code needs 0xa00
    EXPECT_NE(load_error(short_setup).find("setup code of 0xa00 bytes"), std::string::npos);

    auto bad_jump = make_bzimage();
    bad_jump[jump + 1] = 0x10; // header would end at 0x212
    EXPECT_NE(load_error(bad_jump).find("setup header ends at 0x212"), std::string::npos);
}

TEST(BzImageLoader, RejectsInitrdTooLarge) {
    std::vector<std::uint8_t> initrd(40 * mib, 1);
    auto error = load_error(make_bzimage(), "", initrd, 32 * mib);
    EXPECT_NE(error.find("bzImage kernel.img: initrd initrd.img of 41943040 bytes does not fit"),
              std::string::npos)
        << error;
}

TEST(BzImageLoader, RejectsCommandLineLongerThanCmdlineSize) {
    ImageOptions options;
    options.cmdline_size = 16;
    EXPECT_EQ(load_error(make_bzimage(options), "0123456789abcdef"), "loaded");
    EXPECT_EQ(load_error(make_bzimage(options), "0123456789abcdefX"),
              "bzImage kernel.img: command line of 17 bytes is longer than 16 (cmdline_size at "
              "0x238 is 16)");
}

TEST(BzImageLoader, CommandLineLimitFromTheHeaderAlone) {
    ImageOptions options;
    options.cmdline_size = 1000;
    auto image = make_bzimage(options);
    auto limit = bzimage_command_line_limit(std::span(image).first(setup_header_limit));
    ASSERT_TRUE(limit.has_value()) << limit.error().message;
    EXPECT_EQ(*limit, 1000u);
    options.cmdline_size = 0xffffffff; // capped by the command-line area Vessel has
    image = make_bzimage(options);
    EXPECT_EQ(bzimage_command_line_limit(image).value_or(0),
              boot_layout::command_line_capacity - 1);
    auto short_file = bzimage_command_line_limit(std::span(image).first(0x230));
    ASSERT_FALSE(short_file.has_value());
    EXPECT_NE(short_file.error().message.find("cmdline_size"), std::string::npos);
    std::vector<std::uint8_t> not_linux(0x400, 0);
    EXPECT_FALSE(bzimage_command_line_limit(not_linux).has_value());
}

TEST(BzImageLoader, RejectsKernelLargerThanRam) {
    ImageOptions options;
    options.init_size = 0xf0000000;
    auto error = load_error(make_bzimage(options));
    EXPECT_NE(error.find("kernel needs guest RAM"), std::string::npos) << error;
}

/// The oracle for a corrupted image: an error that names the file, or an entry state whose
/// kernel came from inside the file and sits inside guest RAM, with boot_params describing it.
void check_corrupted_load(GuestMemory& memory, const std::vector<std::uint8_t>& image,
                          const Result<CpuState>& state, const std::vector<std::uint8_t>& initrd) {
    if (!state) {
        EXPECT_NE(state.error().message.find("fuzz.img"), std::string::npos)
            << state.error().message;
        return;
    }
    // Loaded: the header the loader accepted must hold up against the file it came from.
    const std::uint64_t sectors = image[setup_sects] ? image[setup_sects] : 4u;
    const std::uint64_t setup_size = (sectors + 1) * 512;
    std::uint32_t paragraphs;
    std::memcpy(&paragraphs, image.data() + syssize, 4);
    const std::uint64_t kernel_size = std::uint64_t{paragraphs} * 16;
    ASSERT_GT(kernel_size, 0u);
    ASSERT_LE(setup_size + kernel_size, image.size()) << "kernel claimed beyond the file";
    const bool long_mode = (state->efer & efer::lma) != 0;
    const std::uint64_t load = state->rip - (long_mode ? entry_64_offset : 0);
    EXPECT_EQ(zero_page<std::uint32_t>(memory, code32_start), load);
    ASSERT_TRUE(memory.contains(load, kernel_size)) << std::hex << load;
    EXPECT_EQ(read_bytes(memory, load, kernel_size),
              std::vector<std::uint8_t>(image.begin() + setup_size,
                                        image.begin() + setup_size + kernel_size));
    EXPECT_EQ(state->gpr[rsi], boot_layout::zero_page_address);
    const auto initrd_address = zero_page<std::uint32_t>(memory, ramdisk_image);
    EXPECT_EQ(zero_page<std::uint32_t>(memory, ramdisk_size), initrd.size());
    EXPECT_EQ(read_bytes(memory, initrd_address, initrd.size()), initrd);
    EXPECT_TRUE(initrd_address >= load + kernel_size || initrd_address + initrd.size() <= load)
        << "initrd overlaps the kernel";
    // Wipe what was loaded so the next round cannot pass on this round's bytes.
    EXPECT_TRUE(memory.fill(load, 0, kernel_size));
    EXPECT_TRUE(memory.fill(initrd_address, 0, initrd.size()));
}

TEST(BzImageLoader, CorruptedHeadersLoadConsistentlyOrFailNamingTheFile) {
    auto original = make_bzimage();
    auto memory = GuestMemory::create(32 * mib).value();
    const std::vector<std::uint8_t> initrd(100, 1);
    std::mt19937 random(99);
    unsigned loaded = 0, refused = 0;
    for (int round = 0; round < 3000; ++round) {
        auto image = original;
        for (int flip = 0; flip < 3; ++flip)
            image[0x1f1 + random() % 0x80] = static_cast<std::uint8_t>(random());
        image.resize(random() % 2 ? image.size() : random() % image.size());
        SCOPED_TRACE(round);
        auto state = load_bzimage(memory, image, "fuzz.img", "x", initrd, "initrd.img");
        (state ? loaded : refused) += 1;
        check_corrupted_load(memory, image, state, initrd);
        if (HasFailure()) break;
    }
    // Both outcomes must occur, or the corruption no longer exercises the checks.
    EXPECT_GT(loaded, 100u);
    EXPECT_GT(refused, 100u);
}

} // namespace
} // namespace vessel::x86
