/* pit_irq: 8254 PIT channel 0 at ~1 kHz through a remapped 8259 PIC, timed against PIT channel 2.
 */
#include "guest.h"

#define PIC_MASTER_COMMAND 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_EOI 0x20      /* OCW2 non-specific EOI */
#define PIC_READ_ISR 0x0b /* OCW3: next read of the command port returns ISR */
#define PIT_CHANNEL0 0x40
#define PIT_CHANNEL2 0x42
#define PIT_COMMAND 0x43
#define PIT_CH0_MODE2 0x34 /* channel 0, lobyte/hibyte, mode 2 (rate generator), binary */
#define PIT_CH0_LATCH 0x00 /* counter latch command for channel 0 */
#define PIT_CH2_MODE0 0xb0 /* channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count) */
#define PIT_FREQUENCY_HZ 1193182u
#define PIT_DIVISOR_1KHZ 1193u
#define SYSTEM_CONTROL_PORT_B 0x61
#define PORT_B_GATE2 0x01   /* timer 2 gate */
#define PORT_B_SPEAKER 0x02 /* speaker data enable: keep off */
#define PORT_B_OUT2 0x20    /* timer 2 output, read-only */
#define TIMER_VECTOR 0x20
#define WINDOW_MS 20u

static volatile uint32_t ticks;

static void timer_handler(struct interrupt_frame* frame) {
    (void)frame;
    ++ticks;
    outb(PIC_MASTER_COMMAND, PIC_EOI);
}

static uint16_t read_channel0(void) {
    outb(PIT_COMMAND, PIT_CH0_LATCH);
    uint8_t low = inb(PIT_CHANNEL0);
    uint8_t high = inb(PIT_CHANNEL0);
    return (uint16_t)(low | (high << 8));
}

/* Starts a one-shot of WINDOW_MS on channel 2; its output shows up in port 0x61 bit 5. */
static void start_reference_window(void) {
    uint8_t port_b = inb(SYSTEM_CONTROL_PORT_B);
    outb(SYSTEM_CONTROL_PORT_B, (uint8_t)((port_b & ~PORT_B_SPEAKER) & ~PORT_B_GATE2));
    uint16_t count = (uint16_t)(PIT_FREQUENCY_HZ * WINDOW_MS / 1000);
    outb(PIT_COMMAND, PIT_CH2_MODE0);
    outb(PIT_CHANNEL2, (uint8_t)count);
    outb(PIT_CHANNEL2, (uint8_t)(count >> 8));
    outb(SYSTEM_CONTROL_PORT_B, (uint8_t)((port_b & ~PORT_B_SPEAKER) | PORT_B_GATE2));
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    idt_init();
    idt_set_handler(TIMER_VECTOR, timer_handler);
    pic_remap(0x20, 0x28);
    outb(PIT_COMMAND, PIT_CH0_MODE2);
    outb(PIT_CHANNEL0, (uint8_t)PIT_DIVISOR_1KHZ);
    outb(PIT_CHANNEL0, (uint8_t)(PIT_DIVISOR_1KHZ >> 8));
    uint16_t latched = read_channel0();
    if (latched <= PIT_DIVISOR_1KHZ)
        pass("pit channel 0 latched count within the reload value");
    else
        fail("pit channel 0 latched count within the reload value", "count %u", latched);
    outb(PIC_MASTER_DATA, 0xfe); /* unmask IRQ0 only */

    for (uint32_t wakeups = 0; ticks < 5 && wakeups < 100; ++wakeups)
        wait_for_interrupt();
    if (!check(ticks >= 5, "pit irq0 delivered on vector 0x20")) return;

    start_reference_window();
    uint32_t start_ticks = ticks;
    uint32_t wakeups = 0;
    while (!(inb(SYSTEM_CONTROL_PORT_B) & PORT_B_OUT2) && wakeups < 1000) {
        wait_for_interrupt();
        ++wakeups;
    }
    uint32_t elapsed = ticks - start_ticks;
    print("  %u ticks during a %u ms channel 2 window\n", elapsed, WINDOW_MS);
    if (wakeups < 1000 && elapsed >= WINDOW_MS / 2 && elapsed <= WINDOW_MS * 4)
        pass("pit tick rate plausible against channel 2");
    else
        fail("pit tick rate plausible against channel 2", "%u ticks in %u ms window, %u wakeups",
             elapsed, WINDOW_MS, wakeups);

    outb(PIC_MASTER_DATA, 0xff);
    outb(PIC_MASTER_COMMAND, PIC_READ_ISR);
    check_eq("pic in-service register clear after EOI", inb(PIC_MASTER_COMMAND), 0);
    pass("pit_irq");
}
