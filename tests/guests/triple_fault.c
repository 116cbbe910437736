/* triple_fault: #UD with an empty IDT escalates to a triple fault; the VMM must report it and exit
 * non-zero. */
#include "guest.h"

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    print("triple_fault: loading an empty IDT and executing ud2\n");
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } empty = {0, 0};
    __asm__ volatile("lidt %0; ud2" ::"m"(empty));
    fail("triple_fault", "execution continued after ud2 with an empty IDT");
}
