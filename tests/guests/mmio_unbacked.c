/* mmio_unbacked: reads from an unbacked physical address in the MMIO hole return all ones; writes
 * are ignored. */
#include "guest.h"

#define UNBACKED_ADDRESS 0xd0000000u /* in the PCI hole below 4 GiB, no device there */

/* Vessel, like a PCI master abort on real hardware, reads all ones. QEMU's unassigned memory reads
 * zero (memory.c unassigned_mem_read), so check_with_qemu.sh passes "unbacked=zeros" to validate
 * the guest there. */
static uint32_t expected_fill(const struct multiboot_info* info) {
    const char* cmdline = (info->flags & MULTIBOOT_INFO_CMDLINE) ? (const char*)info->cmdline : "";
    const char* fill = cmdline_value(cmdline, "unbacked");
    return fill && memory_equal(fill, "zeros", 5) ? 0 : 0xffffffffu;
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    uint32_t fill = expected_fill(info);
    print("  expecting unbacked reads to return 0x%x\n", fill);
    check_eq("unbacked mmio read returns the fill value", mmio_read32(UNBACKED_ADDRESS), fill);
    mmio_write32(UNBACKED_ADDRESS, 0x12345678);
    check_eq("unbacked mmio write is ignored", mmio_read32(UNBACKED_ADDRESS), fill);
    uint8_t byte = *(volatile uint8_t*)(UNBACKED_ADDRESS + 0x101);
    check_eq("unbacked mmio byte read returns the fill value", byte, fill & 0xff);
    pass("guest keeps running after unbacked mmio");
}
