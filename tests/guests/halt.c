/* halt: prints a prompt-like line without its newline, then halts with interrupts disabled.
 * Not a conformance guest (nothing can wake it; QEMU would wait forever): the CLI tests use it
 * to check that Vessel says why it ended and starts its log line on a line of its own. */
#include "guest.h"

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    print("halt: interrupts off, halting here> ");
    __asm__ volatile("cli; hlt");
    fail("halt", "execution continued after cli; hlt");
}
