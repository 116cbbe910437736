/* IDT set-up, interrupt dispatch and the trap recorder used by exception tests. */
#include "guest.h"

#define CODE32_SELECTOR 0x08
#define GATE_INTERRUPT32 0x8e /* present, DPL 0, 32-bit interrupt gate (SDM vol. 3A 6.11) */

struct __attribute__((packed)) idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t zero;
    uint8_t type;
    uint16_t offset_high;
};

extern const uint32_t interrupt_stub_table[256];

static struct idt_gate idt[256] __attribute__((aligned(8)));
static interrupt_handler handlers[256];

volatile struct trap_record trap_last;
volatile uint32_t trap_resume_eip;

void idt_init(void) {
    for (int vector = 0; vector < 256; ++vector) {
        uint32_t stub = interrupt_stub_table[vector];
        idt[vector] = (struct idt_gate){(uint16_t)stub, CODE32_SELECTOR, 0, GATE_INTERRUPT32,
                                        (uint16_t)(stub >> 16)};
    }
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } descriptor = {sizeof(idt) - 1, (uint32_t)idt};
    __asm__ volatile("lidt %0" ::"m"(descriptor));
}

void idt_set_handler(uint8_t vector, interrupt_handler handler) {
    handlers[vector] = handler;
}

void interrupt_dispatch(struct interrupt_frame* frame) {
    interrupt_handler handler = handlers[frame->vector & 0xff];
    if (handler) {
        handler(frame);
        return;
    }
    fail("unexpected interrupt", "vector %u error 0x%x eip 0x%08x", frame->vector,
         frame->error_code, frame->eip);
    debug_exit(1);
}

static void record_trap(struct interrupt_frame* frame) {
    trap_last.count++;
    trap_last.vector = frame->vector;
    trap_last.error_code = frame->error_code;
    trap_last.eip = frame->eip;
    trap_last.cr2 = read_cr2();
    if (trap_resume_eip) frame->eip = trap_resume_eip;
    trap_resume_eip = 0;
}

void trap_record_vector(uint8_t vector) {
    idt_set_handler(vector, record_trap);
}

void trap_reset(void) {
    trap_last.count = 0;
    trap_last.vector = 0xffffffffu;
    trap_last.error_code = 0xffffffffu;
    trap_last.eip = 0;
    trap_last.cr2 = 0;
    trap_resume_eip = 0;
}
