/* multiboot_info: checks the Multiboot v1 boot information (magic, memory, mmap, cmdline, module,
 * loader name). */
#include "guest.h"

/* Must match tests/guests/multiboot_module.bin, which the runner passes as the first module. */
static const char expected_module[] =
    "Vessel multiboot module: the quick brown fox jumps over the lazy dog 0123456789\n";
static const char expected_token[] =
    "vessel"; /* the runner passes token=vessel on the command line */

#define KIB 1024u
#define MIB (1024u * 1024u)

static void check_memory(const struct multiboot_info* info, uint64_t upper_region_end) {
    if (!(info->flags & MULTIBOOT_INFO_MEMORY)) {
        fail("mem_lower/mem_upper present", "flags 0x%x", info->flags);
        return;
    }
    /* Conventional memory is 640 KiB minus at most a few KiB of EBDA. */
    if (info->mem_lower >= 600 && info->mem_lower <= 640)
        pass("mem_lower is 600..640 KiB");
    else
        fail("mem_lower is 600..640 KiB", "mem_lower %u", info->mem_lower);
    /* mem_upper counts KiB from 1 MiB to the first hole; the mmap's region at 1 MiB must agree
     * within 1 MiB. */
    uint64_t upper_end = (uint64_t)MIB + (uint64_t)info->mem_upper * KIB;
    uint64_t difference =
        upper_end > upper_region_end ? upper_end - upper_region_end : upper_region_end - upper_end;
    if (upper_region_end > MIB && difference <= MIB)
        pass("mem_upper matches the mmap");
    else
        fail("mem_upper matches the mmap",
             "mem_upper %u KiB ends at 0x%llx, mmap region at 1 MiB ends at 0x%llx",
             info->mem_upper, upper_end, upper_region_end);
}

/* Walks the mmap; returns the end of the usable region that starts at 1 MiB (0 if none). */
static uint64_t check_mmap(const struct multiboot_info* info) {
    if (!(info->flags & MULTIBOOT_INFO_MMAP)) {
        fail("mmap present", "flags 0x%x", info->flags);
        return 0;
    }
    uint32_t offset = 0;
    uint32_t entries = 0;
    uint64_t usable = 0;
    uint64_t upper_region_end = 0;
    bool well_formed = true;
    bool low_memory_usable = false;
    while (offset < info->mmap_length) {
        const struct multiboot_mmap_entry* entry = (const void*)(info->mmap_addr + offset);
        print("  mmap base 0x%llx length 0x%llx type %u (size %u)\n", entry->base, entry->length,
              entry->type, entry->size);
        if (entry->size < 20 || entry->length == 0 || entry->type == 0) {
            fail("mmap entries well-formed", "entry %u: size %u length 0x%llx type %u", entries,
                 entry->size, entry->length, entry->type);
            well_formed = false;
            break;
        }
        if (entry->type == MULTIBOOT_MEMORY_AVAILABLE) {
            usable += entry->length;
            if (entry->base == 0) low_memory_usable = true;
            if (entry->base <= MIB && entry->base + entry->length > MIB)
                upper_region_end = entry->base + entry->length;
        }
        offset += entry->size + 4; /* the size field does not count itself */
        ++entries;
    }
    if (well_formed && offset == info->mmap_length && entries >= 2)
        pass("mmap entries well-formed");
    else if (well_formed)
        fail("mmap entries well-formed", "%u entries end at offset %u, mmap_length %u", entries,
             offset, info->mmap_length);
    check(low_memory_usable, "mmap has usable memory at 0");
    if (upper_region_end >= 16 * MIB)
        pass("mmap has usable memory from 1 MiB");
    else
        fail("mmap has usable memory from 1 MiB", "region ends at 0x%llx, usable total 0x%llx",
             upper_region_end, usable);
    return upper_region_end;
}

static void check_cmdline(const struct multiboot_info* info) {
    if (!(info->flags & MULTIBOOT_INFO_CMDLINE) || info->cmdline == 0) {
        fail("cmdline present", "flags 0x%x cmdline 0x%x", info->flags, info->cmdline);
        return;
    }
    const char* cmdline = (const char*)info->cmdline;
    print("  cmdline \"%s\"\n", cmdline);
    pass("cmdline present");
    /* Boot loaders may prepend the kernel path (GRUB and QEMU do), so look for the word. */
    const char* token = cmdline_value(cmdline, "token");
    size_t length = string_length(expected_token);
    if (token && memory_equal(token, expected_token, length) &&
        (token[length] == ' ' || token[length] == 0))
        pass("cmdline has token=vessel");
    else
        fail("cmdline has token=vessel", "cmdline \"%s\"", cmdline);
}

static void check_module(const struct multiboot_info* info) {
    if (!(info->flags & MULTIBOOT_INFO_MODS) || info->mods_count != 1) {
        fail("one module", "flags 0x%x mods_count %u", info->flags, info->mods_count);
        return;
    }
    pass("one module");
    const struct multiboot_module* module = (const void*)info->mods_addr;
    uint32_t length = module->mod_end - module->mod_start;
    print("  module 0x%x-0x%x string \"%s\"\n", module->mod_start, module->mod_end,
          module->string ? (const char*)module->string : "");
    if ((module->mod_start & 0xfff) == 0)
        pass("module page aligned");
    else
        fail("module page aligned", "mod_start 0x%x", module->mod_start);
    if (module->mod_start < MIB || module->mod_end < module->mod_start) {
        fail("module contents", "bad range 0x%x-0x%x", module->mod_start, module->mod_end);
        return;
    }
    size_t expected_length = sizeof(expected_module) - 1;
    if (length == expected_length &&
        memory_equal((const void*)module->mod_start, expected_module, length))
        pass("module contents");
    else
        fail("module contents", "length %u (expected %u) or bytes differ", length,
             (uint32_t)expected_length);
}

static void check_boot_loader_name(const struct multiboot_info* info) {
    if (!(info->flags & MULTIBOOT_INFO_BOOT_LOADER_NAME) || info->boot_loader_name == 0) {
        fail("boot_loader_name present", "flags 0x%x", info->flags);
        return;
    }
    const char* name = (const char*)info->boot_loader_name;
    print("  boot loader \"%s\"\n", name);
    if (name[0] != 0 && string_length(name) < 256)
        pass("boot_loader_name present");
    else
        fail("boot_loader_name present", "empty or unterminated");
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    if (!check_eq("multiboot magic in EAX", magic, MULTIBOOT_BOOTLOADER_MAGIC)) return;
    print("  info at 0x%x flags 0x%x\n", (uint32_t)info, info->flags);
    uint64_t upper_region_end = check_mmap(info);
    check_memory(info, upper_region_end);
    check_cmdline(info);
    check_module(info);
    check_boot_loader_name(info);
}
