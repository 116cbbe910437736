/* One entry stub per interrupt vector: builds a struct interrupt_frame and calls interrupt_dispatch. */

    .text
/* Vectors for which the CPU pushes an error code (Intel SDM vol. 3A, table 6-1). */
.macro stub vector
    .align 16
stub_\vector:
    .if (\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushl $0
    .endif
    pushl $\vector
    jmp interrupt_common
.endm

.altmacro
.macro stub_address vector
    .long stub_\vector
.endm

    .set vector, 0
    .rept 256
    stub %vector
    .set vector, vector + 1
    .endr

interrupt_common:
    pushal
    cld
    pushl %esp /* struct interrupt_frame * */
    call interrupt_dispatch
    addl $4, %esp
    popal
    addl $8, %esp /* vector and error code */
    /* Returning to CPL0 without iret: on hosts whose /dev/kvm has no VT-x/AMD-V (kvm_pvm), the
     * host kernel emulates guest CPL0 code and its emulator handles iret only in real mode. popf
     * then a far return with imm16 does the same for a same-privilege return (an interrupt that
     * arrives between them nests and returns first). Returns to CPL3 still need iret. */
    testl $3, 4(%esp)
    jnz 1f
    pushl 8(%esp)
    popfl
    lret $4
1:  iretl

    .section .rodata
    .align 4
    .globl interrupt_stub_table
interrupt_stub_table:
    .set vector, 0
    .rept 256
    stub_address %vector
    .set vector, vector + 1
    .endr

    .section .note.GNU-stack, "", @progbits
