/* reset: asks the i8042 keyboard controller to pulse the reset line; the VMM should exit with
 * status 0. */
#include "guest.h"

#define I8042_STATUS 0x64
#define I8042_COMMAND 0x64
#define I8042_STATUS_INPUT_FULL 0x02 /* controller has not taken the last byte yet */
#define I8042_PULSE_RESET 0xfe       /* pulse output line 0 (CPU reset) */

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    print("reset: requesting a reset through the i8042\n");
    for (int i = 0; i < 1000 && (inb(I8042_STATUS) & I8042_STATUS_INPUT_FULL); ++i) {
    }
    outb(I8042_COMMAND, I8042_PULSE_RESET);
    for (int i = 0; i < 1000; ++i)
        __asm__ volatile("pause");
    fail("reset", "still running after writing 0x%x to port 0x%x", I8042_PULSE_RESET,
         I8042_COMMAND);
}
