/* bench_integer helper: the 10-instruction integer loop, run in 64-bit mode (as Linux code runs).
 * uint32_t bench_loop_64(uint32_t count): paging and EFER.LME are set up by the caller; returns
 * a ^ b ^ c ^ d after `count` iterations, back in compatibility mode. */

#define CODE32_SELECTOR 0x08
#define CODE64_SELECTOR 0x18

    .text
    .code32
    .globl bench_loop_64
bench_loop_64:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl 20(%esp), %ecx /* count */
    ljmp $CODE64_SELECTOR, $bench_entry

    .code64
bench_entry:
    movl %esp, %esp /* upper halves are undefined after the mode switch: zero-extend */
    movl $1, %eax
    movl $2, %ebx
    movl $3, %esi
    movl $4, %edi
    /* 10 instructions: add, xor, lea, imul, sub, rol, and, or, dec, jnz. */
1:  addl %ebx, %eax
    xorl %eax, %esi
    leal 7(%esi,%edi,2), %ebx
    imull $3, %ebx, %edi
    subl %edi, %eax
    roll $5, %esi
    andl $0xffff7fff, %ebx
    orl $1, %edi
    decl %ecx
    jnz 1b
    xorl %ebx, %eax
    xorl %esi, %eax
    xorl %edi, %eax
    movl %eax, %edx

    /* Far return to 32-bit code: compatibility mode, still in IA-32e mode. */
    pushq $CODE32_SELECTOR
    leaq bench_return(%rip), %rax
    pushq %rax
    lretq

    .code32
bench_return:
    movl %edx, %eax
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

    .section .note.GNU-stack, "", @progbits
