/* bench_integer: a fixed integer workload for engine speed (bench/soft_engine_ips); not part
 * of the conformance suite. Command line "iterations=N" (default 1000000); each iteration runs
 * exactly 10 instructions, so the guest executes 10*N loop instructions. The loop runs in
 * 64-bit mode (bench_integer_64.S), as the code of a Linux guest does. */
#include "guest.h"

#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1u << 8)
#define PAGE_PRESENT 0x001 /* SDM vol. 3A 4.5, tables 4-14 to 4-19 */
#define PAGE_WRITABLE 0x002
#define PAGE_LARGE 0x080 /* 2 MiB page in a page-directory entry */
#define LARGE_PAGE_SIZE (2u * 1024 * 1024)

uint32_t bench_loop_64(uint32_t count);

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t page_directory[512] __attribute__((aligned(4096)));

static void enter_ia32e_mode(void) {
    for (uint32_t i = 0; i < 2; ++i) /* 0-4 MiB: code, data, stack and boot information */
        page_directory[i] =
            (uint64_t)(i * LARGE_PAGE_SIZE) | PAGE_PRESENT | PAGE_WRITABLE | PAGE_LARGE;
    pdpt[0] = (uint32_t)page_directory | PAGE_PRESENT | PAGE_WRITABLE;
    pml4[0] = (uint32_t)pdpt | PAGE_PRESENT | PAGE_WRITABLE;
    write_cr4(read_cr4() | CR4_PAE);
    write_cr3((uint32_t)pml4);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_LME);
    write_cr0(read_cr0() | CR0_PG);
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    uint32_t iterations = 1000000;
    if (info->flags & (1u << 2)) {
        const char* value = cmdline_value((const char*)(uintptr_t)info->cmdline, "iterations");
        if (value) iterations = (uint32_t)parse_size(value);
    }
    uint32_t count = iterations;
    if (count == 0) count = 1;
    enter_ia32e_mode();
    const uint32_t checksum = bench_loop_64(count);
    print("bench_integer: %u iterations, checksum %x\n", iterations, checksum);
    pass("bench_integer");
}
