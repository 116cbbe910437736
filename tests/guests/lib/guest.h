/* Shared runtime of the test guests: serial output, PASS/FAIL reporting, multiboot info,
 * interrupts. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u /* Multiboot 0.6.96 section 3.2: EAX at entry */

/* Multiboot 0.6.96 section 3.3: boot information structure. */
struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;
    uint32_t mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
};

#define MULTIBOOT_INFO_MEMORY (1u << 0)           /* mem_lower/mem_upper valid */
#define MULTIBOOT_INFO_CMDLINE (1u << 2)          /* cmdline valid */
#define MULTIBOOT_INFO_MODS (1u << 3)             /* mods_count/mods_addr valid */
#define MULTIBOOT_INFO_MMAP (1u << 6)             /* mmap_length/mmap_addr valid */
#define MULTIBOOT_INFO_BOOT_LOADER_NAME (1u << 9) /* boot_loader_name valid */

struct multiboot_module {
    uint32_t mod_start;
    uint32_t mod_end;
    uint32_t string;
    uint32_t reserved;
};

/* The size field precedes each entry and does not count itself (section 3.3). */
struct __attribute__((packed)) multiboot_mmap_entry {
    uint32_t size;
    uint64_t base;
    uint64_t length;
    uint32_t type;
};

#define MULTIBOOT_MEMORY_AVAILABLE 1

/* Implemented by each guest; the runtime calls it after setting up GDT and stack. */
void guest_main(uint32_t magic, const struct multiboot_info* info);

/* Serial output on COM1. */
void serial_putc(char c);
void serial_write(const char* text, size_t length);
/* printf subset: %s %c %d %u %x %08x (width, zero pad), %llx for uint64_t, %%. */
void print(const char* format, ...) __attribute__((format(printf, 1, 2)));
void vprint(const char* format, va_list args);

/* Reporting: "PASS: what" / "FAIL: what (details)". */
void pass(const char* what);
void fail(const char* what, const char* details_format, ...) __attribute__((format(printf, 2, 3)));
bool check(bool condition, const char* what);                     /* FAIL without details */
bool check_eq(const char* what, uint64_t got, uint64_t expected); /* details name both values */
int failure_count(void);

/* isa-debug-exit at port 0xf4: the VMM exits with (value << 1) | 1. */
void debug_exit(uint32_t value) __attribute__((noreturn));

/* String helpers (freestanding: no libc). */
void* memcpy(void* destination, const void* source, size_t length);
void* memset(void* destination, int value, size_t length);
size_t string_length(const char* text);
bool string_equal(const char* a, const char* b);
bool memory_equal(const void* a, const void* b, size_t length);
/* Finds "key=" as a whole word in the command line; returns a pointer to the value or NULL. */
const char* cmdline_value(const char* cmdline, const char* key);
/* Parses decimal digits with an optional K/M/G suffix; stops at the first space or NUL. */
uint64_t parse_size(const char* text);

/* Interrupts: stack frame built by the stubs in interrupt_stubs.S. */
struct interrupt_frame {
    uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax; /* pusha */
    uint32_t vector;
    uint32_t error_code; /* 0 for vectors without one */
    uint32_t eip, cs, eflags;
};

typedef void (*interrupt_handler)(struct interrupt_frame* frame);

/* Loads an IDT with gates for all 256 vectors; unhandled vectors report FAIL and exit. */
void idt_init(void);
void idt_set_handler(uint8_t vector, interrupt_handler handler);

/* Trap recorder: a handler that records the trap and resumes at trap_resume_eip. */
struct trap_record {
    uint32_t count;
    uint32_t vector;
    uint32_t error_code;
    uint32_t eip;
    uint32_t cr2;
};
extern volatile struct trap_record trap_last;
extern volatile uint32_t trap_resume_eip;
void trap_record_vector(uint8_t vector); /* installs the recorder for vector */
void trap_reset(void);

/* 8259 PIC: remap to vector bases and mask everything. */
void pic_remap(uint8_t master_base, uint8_t slave_base);
void pic_mask_all(void);
