/* exceptions: #DE, #UD, #GP (selector beyond the GDT, null SS) and int $0x80: vectors, error codes,
 * resume. */
#include "guest.h"

#define VECTOR_DE 0
#define VECTOR_UD 6
#define VECTOR_GP 13
#define VECTOR_SYSCALL 0x80
#define DATA32_SELECTOR 0x10
#define BAD_SELECTOR 0x1230 /* GDT index 0x246, far beyond our 4-entry GDT */

static void expect_trap(const char* what, uint32_t vector, uint32_t error_code, uint32_t eip) {
    if (trap_last.count == 1 && trap_last.vector == vector && trap_last.error_code == error_code &&
        trap_last.eip == eip)
        pass(what);
    else
        fail(what,
             "%u traps, vector %u error 0x%x eip 0x%x; expected vector %u error 0x%x eip 0x%x",
             trap_last.count, trap_last.vector, trap_last.error_code, trap_last.eip, vector,
             error_code, eip);
}

static void divide_error(void) {
    uint32_t fault_eip;
    trap_reset();
    __asm__ volatile("movl $1f, %[resume]\n\t"
                     "movl $0f, %[at]\n\t"
                     "xorl %%ecx, %%ecx\n\t"
                     "movl $1, %%eax\n\t"
                     "xorl %%edx, %%edx\n"
                     "0:\tdivl %%ecx\n"
                     "1:"
                     : [resume] "=m"(trap_resume_eip), [at] "=m"(fault_eip)
                     :
                     : "eax", "ecx", "edx", "memory");
    expect_trap("#DE from divide by zero, eip at the div", VECTOR_DE, 0, fault_eip);
}

static void invalid_opcode(void) {
    uint32_t fault_eip;
    trap_reset();
    __asm__ volatile("movl $1f, %[resume]\n\t"
                     "movl $0f, %[at]\n"
                     "0:\tud2\n"
                     "1:"
                     : [resume] "=m"(trap_resume_eip), [at] "=m"(fault_eip)
                     :
                     : "memory");
    expect_trap("#UD from ud2, eip at the ud2", VECTOR_UD, 0, fault_eip);
}

static void bad_selector(void) {
    uint32_t fault_eip;
    trap_reset();
    __asm__ volatile("movl $1f, %[resume]\n\t"
                     "movl $0f, %[at]\n\t"
                     "movl %[bad], %%eax\n"
                     "0:\tmovl %%eax, %%ds\n"
                     "1:\tmovl %[good], %%eax\n\t"
                     "movl %%eax, %%ds"
                     : [resume] "=m"(trap_resume_eip), [at] "=m"(fault_eip)
                     : [bad] "i"(BAD_SELECTOR), [good] "i"(DATA32_SELECTOR)
                     : "eax", "memory");
    expect_trap("#GP(selector) from loading a selector beyond the GDT limit", VECTOR_GP,
                BAD_SELECTOR, fault_eip);
}

/* SDM vol. 2B, MOV: loading SS with a null selector outside 64-bit mode raises #GP(0). */
static void null_stack_selector(void) {
    uint32_t fault_eip;
    trap_reset();
    __asm__ volatile("movl $1f, %[resume]\n\t"
                     "movl $0f, %[at]\n\t"
                     "xorl %%eax, %%eax\n"
                     "0:\tmovl %%eax, %%ss\n"
                     "1:"
                     : [resume] "=m"(trap_resume_eip), [at] "=m"(fault_eip)
                     :
                     : "eax", "memory");
    expect_trap("#GP(0) from loading SS with a null selector", VECTOR_GP, 0, fault_eip);
    uint32_t ss;
    __asm__ volatile("movl %%ss, %0" : "=r"(ss));
    check_eq("SS unchanged after the faulting load", ss, DATA32_SELECTOR);
}

/* A "system call" handler: returns a value in EAX through the saved frame, like an OS would. */
static void syscall_handler(struct interrupt_frame* frame) {
    trap_last.count++;
    trap_last.vector = frame->vector;
    trap_last.eip = frame->eip;
    frame->eax = frame->ebx + 1;
}

static void software_interrupt(void) {
    uint32_t return_eip;
    uint32_t result;
    trap_reset();
    __asm__ volatile("movl $1f, %[after]\n\t"
                     "int $0x80\n"
                     "1:"
                     : [after] "=m"(return_eip), "=a"(result)
                     : "a"(0), "b"(41)
                     : "memory");
    if (trap_last.count == 1 && trap_last.vector == VECTOR_SYSCALL && trap_last.eip == return_eip &&
        result == 42)
        pass("int $0x80 reaches vector 0x80, returns after the int with the frame's EAX");
    else
        fail("int $0x80 reaches vector 0x80, returns after the int with the frame's EAX",
             "%u traps, vector 0x%x, eip 0x%x (expected 0x%x), eax %u", trap_last.count,
             trap_last.vector, trap_last.eip, return_eip, result);
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    idt_init();
    trap_record_vector(VECTOR_DE);
    trap_record_vector(VECTOR_UD);
    trap_record_vector(VECTOR_GP);
    idt_set_handler(VECTOR_SYSCALL, syscall_handler);
    divide_error();
    invalid_opcode();
    bad_selector();
    null_stack_selector();
    software_interrupt();
}
