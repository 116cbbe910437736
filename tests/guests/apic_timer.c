/* apic_timer: xAPIC at 0xfee00000: software enable via SVR, periodic LVT timer, interrupts counted,
 * EOI. */
#include "guest.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_ENABLE (1u << 11) /* IA32_APIC_BASE bit 11: xAPIC global enable */
#define APIC_BASE 0xfee00000u
#define APIC_ID 0x020 /* register offsets: SDM vol. 3A table 11-1 */
#define APIC_VERSION 0x030
#define APIC_EOI 0x0b0
#define APIC_SVR 0x0f0
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_CURRENT 0x390
#define APIC_TIMER_DIVIDE 0x3e0
#define SVR_ENABLE (1u << 8)
#define SPURIOUS_VECTOR 0xff
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define TIMER_DIVIDE_BY_16 0x3 /* divide configuration encoding 0011 */
#define TIMER_VECTOR 0x40
#define TIMER_INITIAL_COUNT 200000u
#define TICKS_WANTED 10u

static volatile uint32_t ticks;

static uint32_t apic_read(uint32_t offset) {
    return mmio_read32(APIC_BASE + offset);
}
static void apic_write(uint32_t offset, uint32_t value) {
    mmio_write32(APIC_BASE + offset, value);
}

static void timer_handler(struct interrupt_frame* frame) {
    (void)frame;
    ++ticks;
    apic_write(APIC_EOI, 0);
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    idt_init();
    idt_set_handler(TIMER_VECTOR, timer_handler);
    pic_mask_all(); /* the 8259 stays quiet: only the local APIC interrupts */

    uint64_t apic_base = rdmsr(MSR_APIC_BASE);
    if (!check_eq("IA32_APIC_BASE is 0xfee00000 and enabled",
                  apic_base & (0xfffff000u | APIC_BASE_ENABLE), APIC_BASE | APIC_BASE_ENABLE))
        return;
    uint32_t version = apic_read(APIC_VERSION) & 0xff;
    if (version >= 0x10 && version <= 0x15)
        pass("local APIC version is an integrated xAPIC");
    else
        fail("local APIC version is an integrated xAPIC", "version register 0x%x",
             apic_read(APIC_VERSION));
    print("  apic id 0x%x version 0x%x\n", apic_read(APIC_ID) >> 24, apic_read(APIC_VERSION));

    apic_write(APIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
    check_eq("SVR reads back enabled", apic_read(APIC_SVR) & 0x1ff, SVR_ENABLE | SPURIOUS_VECTOR);
    apic_write(APIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    apic_write(APIC_LVT_TIMER, LVT_TIMER_PERIODIC | TIMER_VECTOR);
    apic_write(APIC_TIMER_INITIAL, TIMER_INITIAL_COUNT);
    check_eq("LVT timer reads back periodic, unmasked", apic_read(APIC_LVT_TIMER) & 0x300ff,
             LVT_TIMER_PERIODIC | TIMER_VECTOR);

    uint32_t first = apic_read(APIC_TIMER_CURRENT);
    uint32_t second = first;
    for (int i = 0; i < 100 && second == first; ++i)
        second = apic_read(APIC_TIMER_CURRENT);
    if (first <= TIMER_INITIAL_COUNT && second < first)
        pass("timer current count counts down");
    else
        fail("timer current count counts down", "read %u then %u (initial %u)", first, second,
             TIMER_INITIAL_COUNT);

    for (uint32_t wakeups = 0; ticks < TICKS_WANTED && wakeups < 100; ++wakeups)
        wait_for_interrupt();
    if (ticks >= TICKS_WANTED)
        pass("periodic timer interrupts counted");
    else
        fail("periodic timer interrupts counted", "%u ticks", ticks);

    apic_write(APIC_LVT_TIMER, LVT_MASKED | TIMER_VECTOR);
    apic_write(APIC_TIMER_INITIAL, 0);
    check_eq("timer stopped by a zero initial count", apic_read(APIC_TIMER_CURRENT), 0);
}
