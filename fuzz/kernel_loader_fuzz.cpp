// libFuzzer target: a hostile kernel file. The input is a kernel image handed to the bzImage
// loader (as a Linux setup header at 0x1f1) and, when it carries a Multiboot header, to the
// Multiboot loader (ELF32/ELF64 program headers or the a.out kludge), with a module and an
// initrd cut from the input. Loading may fail with an error; it may not crash, hang or write
// outside guest RAM (GuestMemory's checked accessors; ASan watches the rest).
#include <cstdint>
#include <span>

#include "arch/x86/bzimage_loader.hpp"
#include "arch/x86/multiboot_loader.hpp"
#include "base/log.hpp"
#include "memory/guest_memory.hpp"

namespace {
constexpr std::uint64_t memory_size = 16 << 20; // small: placement limits are reached
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = [] {
        vessel::log::initialize("off");
        return true;
    }();
    (void)quiet;
    const std::span<const std::uint8_t> image(data, size);
    // The last eighth doubles as an initrd / module: sizes and placements vary with the input.
    const std::span<const std::uint8_t> extra = image.subspan(size - size / 8);
    {
        auto memory = vessel::GuestMemory::create(memory_size);
        if (!memory) return 0;
        (void)vessel::x86::bzimage_command_line_limit(image);
        (void)vessel::x86::load_bzimage(*memory, image, "fuzz.bzImage", "console=ttyS0", extra,
                                        "fuzz.initrd");
    }
    if (vessel::x86::has_multiboot_header(image)) {
        auto memory = vessel::GuestMemory::create(memory_size);
        if (!memory) return 0;
        const vessel::x86::BootModule module{"module argument", extra};
        (void)vessel::x86::load_multiboot(*memory, image, "fuzz.elf", "command line",
                                          std::span(&module, 1));
    }
    return 0;
}
