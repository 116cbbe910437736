/* ticker: runs until reset, printing "tick N VALUE" about ten times a second (8254 PIT IRQ 0 at
   100 Hz), where VALUE is step N of a 32-bit linear congruential sequence the host can check;
   Ctrl+Alt+Del from the keyboard controller makes it reset the machine through the i8042.
   The API tests use it to see a guest keep running correctly across pause and resume. */
#include "guest.h"

#define PIC_MASTER_COMMAND 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_EOI 0x20 /* OCW2 non-specific EOI */
#define PIT_CHANNEL0 0x40
#define PIT_COMMAND 0x43
#define PIT_CH0_MODE2 0x34       /* channel 0, lobyte/hibyte, mode 2 (rate generator), binary */
#define PIT_DIVISOR_100HZ 11932u /* 1193182 Hz / 100 */
#define I8042_DATA 0x60
#define I8042_COMMAND 0x64
#define I8042_PULSE_RESET 0xfe /* pulse output line 0: CPU reset */
#define I8042_OUTPUT_FULL 0x01 /* status register: output buffer full */
#define TIMER_VECTOR 0x20
#define KEYBOARD_VECTOR 0x21
#define TICKS_PER_LINE 10u
#define SCAN_EXTENDED 0xe0 /* set 1 prefix */
#define SCAN_CTRL 0x1d
#define SCAN_ALT 0x38
#define SCAN_DELETE 0x53 /* after SCAN_EXTENDED */
#define SCAN_BREAK 0x80
#define LCG_MULTIPLIER 1103515245u
#define LCG_INCREMENT 12345u

static volatile uint32_t ticks;
static volatile bool reset_requested;
static bool ctrl_down, alt_down, extended;

static void timer_handler(struct interrupt_frame* frame) {
    (void)frame;
    ++ticks;
    outb(PIC_MASTER_COMMAND, PIC_EOI);
}

static void handle_scan_code(uint8_t code) {
    bool pressed = !(code & SCAN_BREAK);
    uint8_t key = code & (uint8_t)~SCAN_BREAK;
    if (code == SCAN_EXTENDED) {
        extended = true;
    } else {
        if (key == SCAN_CTRL)
            ctrl_down = pressed;
        else if (key == SCAN_ALT)
            alt_down = pressed;
        else if (extended && key == SCAN_DELETE && pressed && ctrl_down && alt_down)
            reset_requested = true;
        extended = false;
    }
}

/* Reads every queued byte: the IRQ line may stay high between bytes, and the 8259 is edge
   triggered here, so one interrupt can stand for several bytes. */
static void keyboard_handler(struct interrupt_frame* frame) {
    (void)frame;
    while (inb(I8042_COMMAND) & I8042_OUTPUT_FULL)
        handle_scan_code(inb(I8042_DATA));
    outb(PIC_MASTER_COMMAND, PIC_EOI);
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    idt_init();
    idt_set_handler(TIMER_VECTOR, timer_handler);
    idt_set_handler(KEYBOARD_VECTOR, keyboard_handler);
    pic_remap(0x20, 0x28);
    outb(PIT_COMMAND, PIT_CH0_MODE2);
    outb(PIT_CHANNEL0, (uint8_t)PIT_DIVISOR_100HZ);
    outb(PIT_CHANNEL0, (uint8_t)(PIT_DIVISOR_100HZ >> 8));
    outb(PIC_MASTER_DATA, 0xfc); /* unmask IRQ 0 (timer) and IRQ 1 (keyboard) */
    print("ticker: started\n");

    uint32_t line = 0;
    uint32_t value = 1;
    uint32_t next_line_tick = TICKS_PER_LINE;
    for (;;) {
        wait_for_interrupt();
        if (reset_requested) {
            print("ticker: ctrl-alt-del received, resetting\n");
            outb(I8042_COMMAND, I8042_PULSE_RESET);
        }
        if (ticks >= next_line_tick) {
            next_line_tick += TICKS_PER_LINE;
            ++line;
            value = value * LCG_MULTIPLIER + LCG_INCREMENT;
            print("tick %u %08x\n", line, value);
        }
    }
}
