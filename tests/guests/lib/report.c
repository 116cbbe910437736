/* PASS/FAIL reporting, debug exit and the C entry point every guest starts in. */
#include "guest.h"

#define DEBUG_EXIT_PORT 0xf4 /* QEMU isa-debug-exit: VMM exits with (value << 1) | 1 */

static int failures;
static uint32_t bss_canary[4]; /* must read as zero: the loader clears p_memsz beyond p_filesz */

void pass(const char* what) {
    print("PASS: %s\n", what);
}

void fail(const char* what, const char* details_format, ...) {
    ++failures;
    print("FAIL: %s (", what);
    va_list args;
    va_start(args, details_format);
    vprint(details_format, args);
    va_end(args);
    print(")\n");
}

bool check(bool condition, const char* what) {
    if (condition)
        pass(what);
    else
        fail(what, "condition false");
    return condition;
}

bool check_eq(const char* what, uint64_t got, uint64_t expected) {
    if (got == expected) {
        pass(what);
        return true;
    }
    fail(what, "got 0x%llx, expected 0x%llx", got, expected);
    return false;
}

int failure_count(void) {
    return failures;
}

void debug_exit(uint32_t value) {
    outl(DEBUG_EXIT_PORT, value);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void guest_start(uint32_t magic, const struct multiboot_info* info) {
    if (bss_canary[0] | bss_canary[1] | bss_canary[2] | bss_canary[3])
        fail("bss cleared by loader", "canary 0x%x", bss_canary[0]);
    guest_main(magic, info);
    debug_exit(failures ? 1 : 0);
}
