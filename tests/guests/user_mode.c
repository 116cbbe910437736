/* user_mode: ring 3 under a TSS with an I/O permission bitmap. From CPL 3 with IOPL 0, the ports
   the bitmap allows (COM1, debug-exit) work, others raise #GP(0) (also a word access that
   straddles into a denied port), and cli, hlt and int through a DPL 0 gate raise #GP. The guest
   reports and exits from ring 3 through the allowed ports. */
#include "guest.h"

#define VECTOR_GP 13
#define GDT_ENTRIES 7
#define KERNEL_DATA_SELECTOR 0x10
#define USER_CODE_SELECTOR 0x23 /* GDT index 4, RPL 3 */
#define USER_DATA_SELECTOR 0x2b /* GDT index 5, RPL 3 */
#define TSS_SELECTOR 0x30       /* GDT index 6 */
#define TSS_SIZE 104            /* 32-bit TSS (Intel SDM Vol. 3A, figure 8-2) */
#define IO_BITMAP_BYTES 8192    /* one bit per port, 65536 ports */
#define EFLAGS_RESERVED 0x2
#define DENIED_PORT 0x80

struct __attribute__((packed)) tss32 {
    uint32_t previous_task, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags, eax, ecx, edx, ebx,
        esp, ebp, esi, edi, es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, io_map_base;
    /* The bitmap, then a byte of all ones the processor may read past the last port (19.5.2). */
    uint8_t io_bitmap[IO_BITMAP_BYTES + 1];
};

extern uint64_t gdt[];
static uint64_t user_gdt[GDT_ENTRIES] __attribute__((aligned(8)));
static struct tss32 tss __attribute__((aligned(128)));
static uint8_t kernel_stack[4096] __attribute__((aligned(16)));
static uint8_t user_stack[4096] __attribute__((aligned(16)));

static uint64_t tss_descriptor(uint32_t base, uint32_t limit) {
    /* Present, DPL 0, type 9 (32-bit available TSS), byte granular. */
    return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 | (uint64_t)0x89 << 40 |
           (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)(base >> 24) << 56;
}

static void allow_port(uint16_t port) {
    tss.io_bitmap[port / 8] &= (uint8_t) ~(1u << (port % 8));
}

static void expect_gp(const char* what, uint32_t error_code, uint32_t eip) {
    if (trap_last.count == 1 && trap_last.vector == VECTOR_GP &&
        trap_last.error_code == error_code && trap_last.eip == eip)
        pass(what);
    else
        fail(what, "%u traps, vector %u error 0x%x eip 0x%x; want #GP(0x%x) at 0x%x",
             trap_last.count, trap_last.vector, trap_last.error_code, trap_last.eip, error_code,
             eip);
}

/* Runs `instruction` in ring 3 expecting #GP(error_code) at it, resuming after it. */
#define EXPECT_GP(what, error_code, instruction, ...)                                              \
    do {                                                                                           \
        uint32_t at;                                                                               \
        trap_reset();                                                                              \
        __asm__ volatile("movl $1f, %[resume]\n\tmovl $0f, %[at]\n0:\t" instruction "\n1:"         \
                         : [resume] "=m"(trap_resume_eip), [at] "=m"(at)__VA_ARGS__);              \
        expect_gp(what, error_code, at);                                                           \
    } while (0)

static void __attribute__((noreturn)) user_main(void) {
    uint16_t cs;
    __asm__ volatile("movw %%cs, %0" : "=r"(cs));
    check_eq("running at CPL 3", cs & 3, 3);
    /* print() itself uses COM1 ports 0x3f8-0x3fd, so seeing this line proves they are allowed. */
    print("user_mode: COM1 works from ring 3\n");
    EXPECT_GP("out to a port the bitmap denies", 0, "outb %%al, $0x80", : "a"(0));
    EXPECT_GP("in from a port the bitmap denies", 0, "inb $0x80, %%al", : "a"(0));
    EXPECT_GP("word out straddling 0x3ff (allowed) and 0x400 (denied)", 0, "outw %%ax, %%dx",
              : "a"(0), "d"(0x3ff));
    EXPECT_GP("cli with CPL > IOPL", 0, "cli");
    EXPECT_GP("hlt at CPL 3", 0, "hlt");
    /* IDT gates are DPL 0: #GP with the IDT flag (bit 1) and the vector in the index field. */
    EXPECT_GP("int 0x40 through a DPL 0 gate", 0x40 << 3 | 2, "int $0x40");
    if (failure_count() == 0) pass("user_mode");
    debug_exit(failure_count() == 0 ? 0 : 1); /* port 0xf4 is allowed too */
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    idt_init();
    trap_record_vector(VECTOR_GP);
    for (int i = 0; i < 4; ++i)
        user_gdt[i] = gdt[i];
    user_gdt[4] = 0x00cffa000000ffffull; /* 32-bit code, DPL 3 */
    user_gdt[5] = 0x00cff2000000ffffull; /* 32-bit data, DPL 3 */
    user_gdt[6] = tss_descriptor((uint32_t)&tss, sizeof tss - 1);
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } descriptor = {sizeof user_gdt - 1, (uint32_t)user_gdt};
    __asm__ volatile("lgdt %0" ::"m"(descriptor));

    tss.ss0 = KERNEL_DATA_SELECTOR;
    tss.esp0 = (uint32_t)(kernel_stack + sizeof kernel_stack);
    tss.io_map_base = TSS_SIZE;
    memset(tss.io_bitmap, 0xff, sizeof tss.io_bitmap);
    for (uint16_t port = 0x3f8; port <= 0x3ff; ++port)
        allow_port(port);
    for (uint16_t port = 0xf4; port <= 0xf7; ++port)
        allow_port(port);
    __asm__ volatile("ltr %w0" ::"r"(TSS_SELECTOR));

    /* Data segments usable from ring 3, then iret to CPL 3 with IOPL 0 and interrupts off. */
    __asm__ volatile("movw %w0, %%ds\n\tmovw %w0, %%es\n\tmovw %w0, %%fs\n\tmovw %w0, %%gs\n\t"
                     "pushl %0\n\tpushl %1\n\tpushl %2\n\tpushl %3\n\tpushl %4\n\tiretl"
                     :
                     : "r"((uint32_t)USER_DATA_SELECTOR),
                       "r"((uint32_t)(user_stack + sizeof user_stack)),
                       "r"((uint32_t)EFLAGS_RESERVED), "r"((uint32_t)USER_CODE_SELECTOR),
                       "r"((uint32_t)user_main)
                     : "memory");
    __builtin_unreachable();
}
