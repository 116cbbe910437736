/* long_mode: enter IA-32e mode (PAE, EFER.LME, paging), run 64-bit code with r8-r15, return to
 * compatibility mode. */
#include "guest.h"

#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define PAGE_PRESENT 0x001 /* SDM vol. 3A 4.5, tables 4-14 to 4-19 */
#define PAGE_WRITABLE 0x002
#define PAGE_LARGE 0x080 /* 2 MiB page in a page-directory entry */
#define LARGE_PAGE_SIZE (2u * 1024 * 1024)
#define CPUID_EXTENDED_FEATURES 0x80000001
#define CPUID_LM (1u << 29) /* EDX bit 29: long mode */

struct long_mode_results {
    uint64_t product;
    uint64_t shifted;
    uint64_t sum;
    uint64_t quotient;
    uint64_t remainder;
    uint64_t zero_extended;
    uint64_t rip_relative;
    uint64_t push_pop;
};

void run_long_mode(struct long_mode_results* out);
extern const char long_mode_marker[];

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t page_directory[512] __attribute__((aligned(4096)));

static void build_identity_map(void) {
    for (uint32_t i = 0; i < 2; ++i) /* 0-4 MiB: code, data, stack and boot information */
        page_directory[i] =
            (uint64_t)(i * LARGE_PAGE_SIZE) | PAGE_PRESENT | PAGE_WRITABLE | PAGE_LARGE;
    pdpt[0] = (uint32_t)page_directory | PAGE_PRESENT | PAGE_WRITABLE;
    pml4[0] = (uint32_t)pdpt | PAGE_PRESENT | PAGE_WRITABLE;
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    uint32_t regs[4];
    cpuid(0x80000000, 0, regs);
    if (regs[0] < CPUID_EXTENDED_FEATURES) {
        fail("cpuid reports long mode", "max extended leaf 0x%x", regs[0]);
        return;
    }
    cpuid(CPUID_EXTENDED_FEATURES, 0, regs);
    if (!check(regs[3] & CPUID_LM, "cpuid reports long mode")) return;

    build_identity_map();
    write_cr4(read_cr4() | CR4_PAE);
    write_cr3((uint32_t)pml4);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_LME);
    write_cr0(read_cr0() | CR0_PG);
    check_eq("EFER.LMA set once paging is on", rdmsr(MSR_EFER) & (EFER_LME | EFER_LMA),
             EFER_LME | EFER_LMA);

    struct long_mode_results results = {0};
    run_long_mode(&results);
    pass("returned from 64-bit mode to compatibility mode");

    const uint64_t value = 0x123456789abcdef0ull;
    check_eq("64-bit imul", results.product, value * 3);
    check_eq("64-bit shr", results.shifted, value >> 36);
    check_eq("r8-r15 arithmetic", results.sum, value + 0x100000000ull + 10);
    check_eq("64-bit div quotient", results.quotient, 0x123456789abcdef0ull / 1000000007ull);
    check_eq("64-bit div remainder", results.remainder, 0x123456789abcdef0ull % 1000000007ull);
    check_eq("32-bit write zero-extends", results.zero_extended, 0x89abcdefull);
    check_eq("rip-relative lea", results.rip_relative, (uint32_t)long_mode_marker);
    check_eq("64-bit push/pop", results.push_pop, value);
}
