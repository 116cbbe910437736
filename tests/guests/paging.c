/* paging: 32-bit paging: aliasing two virtual pages, accessed/dirty bits, and #PF with CR2 and
 * error codes. */
#include "guest.h"

#define PTE_PRESENT 0x001 /* SDM vol. 3A 4.3, table 4-6 */
#define PTE_WRITABLE 0x002
#define PTE_ACCESSED 0x020
#define PTE_DIRTY 0x040
#define PF_PRESENT 0x1 /* #PF error code bits, SDM vol. 3A 4.7 */
#define PF_WRITE 0x2
#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define VECTOR_PF 14
#define PAGE_SIZE 4096u
#define ALIAS_A 0x40000000u /* two virtual pages mapping the same frame */
#define ALIAS_B 0x40001000u
#define ALIAS_DIRECTORY_INDEX (ALIAS_A >> 22)

static uint32_t page_directory[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t identity_table[1024] __attribute__((aligned(PAGE_SIZE))); /* maps 0-4 MiB 1:1 */
static uint32_t alias_table[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t frame[1024] __attribute__((aligned(PAGE_SIZE)));

static void build_tables(void) {
    for (uint32_t i = 0; i < 1024; ++i)
        identity_table[i] = (i * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE;
    page_directory[0] = (uint32_t)identity_table | PTE_PRESENT | PTE_WRITABLE;
    page_directory[ALIAS_DIRECTORY_INDEX] = (uint32_t)alias_table | PTE_PRESENT | PTE_WRITABLE;
    alias_table[0] = (uint32_t)frame | PTE_PRESENT | PTE_WRITABLE;
    alias_table[1] = (uint32_t)frame | PTE_PRESENT | PTE_WRITABLE;
}

/* Reads or writes *address expecting a #PF; returns through the trap recorder. */
static void faulting_read(uint32_t address) {
    trap_reset();
    __asm__ volatile("movl $1f, %[resume]\n\t"
                     "movl (%[address]), %%eax\n"
                     "1:"
                     : [resume] "=m"(trap_resume_eip)
                     : [address] "r"(address)
                     : "eax", "memory");
}

static void faulting_write(uint32_t address) {
    trap_reset();
    __asm__ volatile("movl $1f, %[resume]\n\t"
                     "movl $0x5555, (%[address])\n"
                     "1:"
                     : [resume] "=m"(trap_resume_eip)
                     : [address] "r"(address)
                     : "memory");
}

static void expect_page_fault(const char* what, uint32_t address, uint32_t error_code) {
    if (trap_last.count == 1 && trap_last.vector == VECTOR_PF && trap_last.cr2 == address &&
        trap_last.error_code == error_code)
        pass(what);
    else
        fail(what, "%u traps, vector %u, cr2 0x%x (expected 0x%x), error 0x%x (expected 0x%x)",
             trap_last.count, trap_last.vector, trap_last.cr2, address, trap_last.error_code,
             error_code);
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    idt_init();
    trap_record_vector(VECTOR_PF);
    build_tables();
    write_cr3((uint32_t)page_directory);
    write_cr0(read_cr0() | CR0_PG | CR0_WP);
    pass("paging enabled with identity-mapped kernel");

    volatile uint32_t* alias_a = (volatile uint32_t*)ALIAS_A;
    volatile uint32_t* alias_b = (volatile uint32_t*)ALIAS_B;
    alias_a[3] = 0xc0ffee11;
    check_eq("write through one alias is read through the other", alias_b[3], 0xc0ffee11);
    check_eq("the frame holds the value written through the alias", frame[3], 0xc0ffee11);

    check_eq("accessed and dirty set on the written page",
             alias_table[0] & (PTE_ACCESSED | PTE_DIRTY), PTE_ACCESSED | PTE_DIRTY);
    check_eq("accessed set, dirty clear on the read-only-used page",
             alias_table[1] & (PTE_ACCESSED | PTE_DIRTY), PTE_ACCESSED);
    check_eq("accessed set on the page directory entry",
             page_directory[ALIAS_DIRECTORY_INDEX] & PTE_ACCESSED, PTE_ACCESSED);

    alias_table[1] &= ~PTE_PRESENT;
    invlpg(ALIAS_B);
    faulting_read(ALIAS_B + 0x10);
    expect_page_fault("#PF on read of an unmapped page: CR2 and error code 0", ALIAS_B + 0x10, 0);
    faulting_write(ALIAS_B + 0x24);
    expect_page_fault("#PF on write to an unmapped page: error code W", ALIAS_B + 0x24, PF_WRITE);

    alias_table[0] &= ~PTE_WRITABLE;
    invlpg(ALIAS_A);
    faulting_write(ALIAS_A + 0x8);
    expect_page_fault("#PF on write to a read-only page with CR0.WP: error code P|W", ALIAS_A + 0x8,
                      PF_PRESENT | PF_WRITE);
    check_eq("read-only page still readable", alias_a[3], 0xc0ffee11);

    write_cr0(read_cr0() & ~CR0_PG);
    pass("paging disabled again");
}
