/* gdb_target: the guest the GDB stub test debugs: a function to break at, a variable to read, a
 * store to watch, then a normal end (debug exit 0, Vessel's status 1). Built with -g -O0. */
#include "guest.h"

volatile uint32_t gdb_counter;
volatile uint32_t gdb_watched;

uint32_t __attribute__((noinline)) gdb_break_here(uint32_t value) {
    gdb_counter += value;
    return gdb_counter;
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    for (uint32_t i = 1; i <= 3; ++i)
        gdb_break_here(i);
    gdb_watched = 0x1234;
    gdb_watched = 0x5678;
    check_eq("gdb_counter after three calls", gdb_counter, 6);
    pass("gdb_target");
}
