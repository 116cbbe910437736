/* bench_integer: a fixed integer workload for engine speed (bench/soft_engine_ips); not part
 * of the conformance suite. Command line "iterations=N" (default 1000000); each iteration runs
 * exactly 10 instructions, so the guest executes 10*N loop instructions. */
#include "guest.h"

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    uint32_t iterations = 1000000;
    if (info->flags & (1u << 2)) {
        const char* value = cmdline_value((const char*)(uintptr_t)info->cmdline, "iterations");
        if (value) iterations = (uint32_t)parse_size(value);
    }
    uint32_t a = 1, b = 2, c = 3, d = 4;
    uint32_t count = iterations;
    if (count == 0) count = 1;
    /* 10 instructions: add, xor, lea, imul, sub, rol, and, or, dec, jnz. */
    __asm__ volatile("1:\n\t"
                     "add %1, %0\n\t"
                     "xor %0, %2\n\t"
                     "lea 7(%2,%3,2), %1\n\t"
                     "imul $3, %1, %3\n\t"
                     "sub %3, %0\n\t"
                     "rol $5, %2\n\t"
                     "and $0xffff7fff, %1\n\t"
                     "or $1, %3\n\t"
                     "dec %4\n\t"
                     "jnz 1b\n\t"
                     : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(count)
                     :
                     : "cc");
    print("bench_integer: %u iterations, checksum %x\n", iterations, a ^ b ^ c ^ d);
    pass("bench_integer");
}
