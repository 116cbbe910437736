/* long_mode helper: switch to 64-bit mode, run 64-bit code, print from it, and return to compatibility mode. */

#define CODE32_SELECTOR 0x08
#define CODE64_SELECTOR 0x18
#define COM1_THR 0x3f8
#define COM1_LSR 0x3fd

/* Results stored by the 64-bit code, laid out as struct long_mode_results in long_mode.c. */
#define RESULT_PRODUCT 0
#define RESULT_SHIFTED 8
#define RESULT_SUM_R8_R15 16
#define RESULT_QUOTIENT 24
#define RESULT_REMAINDER 32
#define RESULT_ZERO_EXTENDED 40
#define RESULT_RIP_RELATIVE 48
#define RESULT_PUSH_POP 56

    .text
    .code32
/* void run_long_mode(struct long_mode_results *out): paging and EFER.LME already set up by the caller. */
    .globl run_long_mode
run_long_mode:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl 20(%esp), %edi /* out */
    ljmp $CODE64_SELECTOR, $long_mode_entry

    .code64
long_mode_entry:
    movl %esp, %esp /* upper halves are undefined after the mode switch: zero-extend */
    movl %edi, %edi

    movabsq $0x123456789abcdef0, %r8
    movq $3, %r9
    movq %r8, %rax
    imulq %r9, %rax
    movq %rax, RESULT_PRODUCT(%rdi)

    movq %r8, %r10
    shrq $36, %r10
    movq %r10, RESULT_SHIFTED(%rdi)

    movq $1, %r11
    movq $2, %r12
    movq $3, %r13
    movq $4, %r14
    movabsq $0x100000000, %r15
    leaq (%r8, %r15), %rax
    addq %r11, %rax
    addq %r12, %rax
    addq %r13, %rax
    addq %r14, %rax
    movq %rax, RESULT_SUM_R8_R15(%rdi)

    movq %r8, %rax
    xorl %edx, %edx
    movabsq $1000000007, %rcx
    divq %rcx
    movq %rax, RESULT_QUOTIENT(%rdi)
    movq %rdx, RESULT_REMAINDER(%rdi)

    movq $-1, %rax
    movl $0x89abcdef, %eax /* a 32-bit write clears bits 63:32 */
    movq %rax, RESULT_ZERO_EXTENDED(%rdi)

    leaq long_mode_marker(%rip), %rax
    movq %rax, RESULT_RIP_RELATIVE(%rdi)

    pushq %r8
    popq %rax
    movq %rax, RESULT_PUSH_POP(%rdi)

    leaq long_mode_message(%rip), %rsi
1:  movb (%rsi), %bl
    testb %bl, %bl
    jz 3f
    movw $COM1_LSR, %dx
2:  inb %dx, %al
    testb $0x20, %al
    jz 2b
    movw $COM1_THR, %dx
    movb %bl, %al
    outb %al, %dx
    incq %rsi
    jmp 1b

    /* Far return to 32-bit code: compatibility mode, still in IA-32e mode. */
3:  pushq $CODE32_SELECTOR
    leaq compatibility_mode_entry(%rip), %rax
    pushq %rax
    lretq

    .code32
compatibility_mode_entry:
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

    .section .rodata
    .globl long_mode_marker
long_mode_marker:
    .byte 0
long_mode_message:
    .asciz "PASS: print from 64-bit mode\n"

    .section .note.GNU-stack, "", @progbits
