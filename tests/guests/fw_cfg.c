/* fw_cfg: QEMU fw_cfg legacy I/O interface: signature, RAM size and CPU count (QEMU
 * docs/specs/fw_cfg.rst). */
#include "guest.h"

#define FW_CFG_SELECTOR 0x510 /* 16-bit write selects an item */
#define FW_CFG_DATA 0x511     /* byte reads stream the selected item */
#define FW_CFG_SIGNATURE 0x00 /* "QEMU" */
#define FW_CFG_ID 0x01        /* feature bitmap, bit 0: traditional interface */
#define FW_CFG_RAM_SIZE 0x03  /* u64 LE */
#define FW_CFG_NB_CPUS 0x05   /* u16 LE */

static void fw_cfg_read(uint16_t key, void* buffer, size_t length) {
    outw(FW_CFG_SELECTOR, key);
    uint8_t* bytes = buffer;
    for (size_t i = 0; i < length; ++i)
        bytes[i] = inb(FW_CFG_DATA);
}

/* Highest end of usable mmap RAM: the RAM size fw_cfg reports must cover it. */
static uint64_t usable_ram_end(const struct multiboot_info* info) {
    uint64_t end = 0;
    if (!(info->flags & MULTIBOOT_INFO_MMAP)) return 0;
    for (uint32_t offset = 0; offset < info->mmap_length;) {
        const struct multiboot_mmap_entry* entry = (const void*)(info->mmap_addr + offset);
        if (entry->type == MULTIBOOT_MEMORY_AVAILABLE && entry->base + entry->length > end &&
            entry->base < 0x100000000ull)
            end = entry->base + entry->length;
        offset += entry->size + 4;
    }
    return end;
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    const char* cmdline = (info->flags & MULTIBOOT_INFO_CMDLINE) ? (const char*)info->cmdline : "";

    char signature[5] = {0};
    fw_cfg_read(FW_CFG_SIGNATURE, signature, 4);
    if (!memory_equal(signature, "QEMU", 4)) {
        fail("fw_cfg signature", "read \"%s\"", signature);
        return;
    }
    pass("fw_cfg signature");

    uint32_t id = 0;
    fw_cfg_read(FW_CFG_ID, &id, 4);
    if (id & 1)
        pass("fw_cfg id has traditional interface bit");
    else
        fail("fw_cfg id has traditional interface bit", "id 0x%x", id);

    uint64_t ram_size = 0;
    fw_cfg_read(FW_CFG_RAM_SIZE, &ram_size, 8);
    const char* ram_argument = cmdline_value(cmdline, "ram");
    if (ram_argument)
        check_eq("fw_cfg RAM size equals cmdline ram=", ram_size, parse_size(ram_argument));
    else
        fail("fw_cfg RAM size equals cmdline ram=", "no ram= in cmdline \"%s\"", cmdline);
    uint64_t usable_end = usable_ram_end(info);
    if (usable_end != 0 && usable_end <= ram_size && usable_end + 16 * 1024 * 1024 >= ram_size)
        pass("fw_cfg RAM size covers the mmap's usable RAM");
    else
        fail("fw_cfg RAM size covers the mmap's usable RAM",
             "RAM size 0x%llx, usable RAM ends at 0x%llx", ram_size, usable_end);

    uint16_t cpus = 0;
    fw_cfg_read(FW_CFG_NB_CPUS, &cpus, 2);
    const char* cpus_argument = cmdline_value(cmdline, "cpus");
    if (cpus_argument)
        check_eq("fw_cfg CPU count equals cmdline cpus=", cpus, parse_size(cpus_argument));
    else
        fail("fw_cfg CPU count equals cmdline cpus=", "no cpus= in cmdline \"%s\"", cmdline);
}
