/* Multiboot v1 header and entry stub shared by all test guests. */
#define MULTIBOOT_HEADER_MAGIC 0x1BADB002 /* Multiboot 0.6.96 section 3.1.1 */
#define MULTIBOOT_PAGE_ALIGN (1 << 0)     /* modules page aligned (3.1.2) */
#define MULTIBOOT_MEMORY_INFO (1 << 1)    /* mem_* and mmap_* wanted (3.1.2) */
#define MULTIBOOT_FLAGS (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)

#define CODE32_SELECTOR 0x08
#define DATA32_SELECTOR 0x10

    .section .multiboot, "a"
    .align 4
    .long MULTIBOOT_HEADER_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_FLAGS)

    .text
    .globl _start
_start:
    /* Multiboot leaves the GDT undefined (3.2): load our own before touching segments. */
    lgdt gdt_descriptor
    ljmp $CODE32_SELECTOR, $1f
1:  movl $DATA32_SELECTOR, %ecx
    movl %ecx, %ds
    movl %ecx, %es
    movl %ecx, %fs
    movl %ecx, %gs
    movl %ecx, %ss
    movl $stack_top, %esp
    pushl %ebx /* multiboot info */
    pushl %eax /* magic */
    call guest_start
    /* guest_start ends with debug_exit; if the VMM ignores it, stop here. */
2:  cli
    hlt
    jmp 2b

    .data
    .align 8
    .globl gdt
gdt:
    .quad 0                  /* 0x00 null */
    .quad 0x00cf9a000000ffff /* 0x08 32-bit code, base 0, limit 4 GiB */
    .quad 0x00cf92000000ffff /* 0x10 32-bit data, base 0, limit 4 GiB */
    .quad 0x00af9a000000ffff /* 0x18 64-bit code (L=1) */
gdt_end:
gdt_descriptor:
    .word gdt_end - gdt - 1
    .long gdt

    .bss
    .align 16
stack_bottom:
    .skip 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
