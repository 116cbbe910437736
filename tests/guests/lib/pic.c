/* 8259A PIC initialisation (ICW1-ICW4) shared by interrupt tests. */
#include "guest.h"

#define PIC_MASTER_COMMAND 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_COMMAND 0xa0
#define PIC_SLAVE_DATA 0xa1
#define PIC_ICW1_INIT_ICW4 0x11 /* ICW1: edge triggered, cascade, ICW4 needed */
#define PIC_ICW3_MASTER 0x04    /* slave on IR2 */
#define PIC_ICW3_SLAVE 0x02     /* slave identity 2 */
#define PIC_ICW4_8086 0x01      /* 8086 mode, normal EOI */

void pic_remap(uint8_t master_base, uint8_t slave_base) {
    outb(PIC_MASTER_COMMAND, PIC_ICW1_INIT_ICW4);
    outb(PIC_SLAVE_COMMAND, PIC_ICW1_INIT_ICW4);
    outb(PIC_MASTER_DATA, master_base);
    outb(PIC_SLAVE_DATA, slave_base);
    outb(PIC_MASTER_DATA, PIC_ICW3_MASTER);
    outb(PIC_SLAVE_DATA, PIC_ICW3_SLAVE);
    outb(PIC_MASTER_DATA, PIC_ICW4_8086);
    outb(PIC_SLAVE_DATA, PIC_ICW4_8086);
    pic_mask_all();
}

void pic_mask_all(void) {
    outb(PIC_MASTER_DATA, 0xff);
    outb(PIC_SLAVE_DATA, 0xff);
}
