/* hostile: a guest that attacks its VMM. It writes random values to every I/O port and to every
 * emulated MMIO register (virtio BARs, IOAPIC, local APIC, guest-signal page, the rest of the
 * 32-bit hole), drives every virtio PCI function with rings whose descriptors point outside RAM,
 * into the MMIO hole, across the end of RAM, into looping, overlapping and self-referencing
 * (indirect) chains, writes random PCI configuration space, and floods the UART. Vessel must stay
 * up; the guest then checks that a virtio-rng reset after all that still serves a normal request,
 * prints PASS and exits through port 0xf4. Run by tests/sandbox/run_sandbox_tests.sh (helper). The
 * command line's seed=N picks the random sequence (default 1).
 * Ports and values that end the VM by design are left out: 0xf4-0xf7 (debug exit), 0xcf9 (reset
 * control), 0x64 (i8042 commands: 0xfe pulses reset), 0x604 (ACPI PM1 control: power off), and
 * byte 1 of the guest-signal page (the exit status). */
#include "guest.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY (1u << 1)
#define PCI_COMMAND_MASTER (1u << 2)
#define PCI_BAR0 0x10
#define PCI_CAPABILITIES 0x34
#define PCI_CAP_VENDOR 0x09
#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_RNG_MODERN 0x1044
#define VIRTIO_BALLOON_MODERN 0x1045 /* left alone: inflating random pages would free our code */
#define BAR_BASE 0xe0000000u         /* where this guest puts BARs left unassigned */
#define BAR_SIZE 0x8000u             /* Vessel's virtio BAR 0 */

/* virtio_pci_common_cfg (virtio 1.2 §4.1.4.3) and status bits (§2.1). */
#define COMMON_DEVICE_FEATURE_SELECT 0x00
#define COMMON_DEVICE_FEATURE 0x04
#define COMMON_DRIVER_FEATURE_SELECT 0x08
#define COMMON_DRIVER_FEATURE 0x0c
#define COMMON_NUM_QUEUES 0x12
#define COMMON_DEVICE_STATUS 0x14
#define COMMON_QUEUE_SELECT 0x16
#define COMMON_QUEUE_SIZE 0x18
#define COMMON_QUEUE_ENABLE 0x1c
#define COMMON_QUEUE_NOTIFY_OFF 0x1e
#define COMMON_QUEUE_DESC 0x20
#define COMMON_QUEUE_DRIVER 0x28
#define COMMON_QUEUE_DEVICE 0x30
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define DESC_NEXT 1     /* VIRTQ_DESC_F_NEXT (§2.7.5) */
#define DESC_WRITE 2    /* VIRTQ_DESC_F_WRITE */
#define DESC_INDIRECT 4 /* VIRTQ_DESC_F_INDIRECT */
#define RING_SIZE 64
#define MAX_FUNCTIONS 16
#define ROUNDS 24 /* hostile ring layouts per function */

#define IOAPIC_BASE 0xfec00000u
#define APIC_BASE 0xfee00000u
#define GUEST_SIGNAL_BASE 0xfe000000u
#define COM1 0x3f8

struct descriptor {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};

/* One scratch ring area; the rings of every queue of the function under attack point into it
 * (or, by design, elsewhere). */
static struct descriptor table[RING_SIZE] __attribute__((aligned(4096)));
static volatile uint16_t avail[2 + RING_SIZE + 1] __attribute__((aligned(4096)));
static volatile uint8_t used[4 + 8 * RING_SIZE + 2] __attribute__((aligned(4096)));
static uint8_t buffer[4096] __attribute__((aligned(4096)));

struct function {
    uint32_t slot;
    uint16_t device_id;
    uintptr_t common;
    uintptr_t notify;
    uint32_t notify_multiplier;
    uint32_t bar0;
};
static struct function functions[MAX_FUNCTIONS];
static unsigned function_count;
static uint32_t ram_end; /* first byte above RAM (below the hole) */
static volatile uint32_t interrupts_taken;

static uint32_t random_state;
static uint32_t next_random(void) { /* xorshift32 */
    random_state ^= random_state << 13;
    random_state ^= random_state >> 17;
    random_state ^= random_state << 5;
    return random_state;
}

static uint32_t pci_address(uint32_t slot, uint32_t offset) {
    return 0x80000000u | (slot << 11) | (offset & 0xfc);
}
static uint32_t pci_read32(uint32_t slot, uint32_t offset) {
    outl(PCI_CONFIG_ADDRESS, pci_address(slot, offset));
    return inl(PCI_CONFIG_DATA);
}
static uint8_t pci_read8(uint32_t slot, uint32_t offset) {
    outl(PCI_CONFIG_ADDRESS, pci_address(slot, offset));
    return inb(PCI_CONFIG_DATA + (offset & 3));
}
static void pci_write32(uint32_t slot, uint32_t offset, uint32_t value) {
    outl(PCI_CONFIG_ADDRESS, pci_address(slot, offset));
    outl(PCI_CONFIG_DATA, value);
}
static void write8(uintptr_t address, uint8_t value) {
    *(volatile uint8_t*)address = value;
}
static void write16(uintptr_t address, uint16_t value) {
    *(volatile uint16_t*)address = value;
}
static uint16_t read16(uintptr_t address) {
    return *(volatile uint16_t*)address;
}
static void write64(uintptr_t address, uint64_t value) {
    mmio_write32(address, (uint32_t)value);
    mmio_write32(address + 4, (uint32_t)(value >> 32));
}

static void count_interrupt(struct interrupt_frame* frame) {
    (void)frame;
    ++interrupts_taken;
    mmio_write32(APIC_BASE + 0xb0, 0); /* EOI */
}

/* Every virtio function on bus 0, BAR 0 placed (each at its own 32 KiB) and decoding. */
static void find_functions(void) {
    for (uint32_t slot = 0; slot < 32 && function_count < MAX_FUNCTIONS; ++slot) {
        const uint32_t id = pci_read32(slot, 0);
        if ((id & 0xffff) != VIRTIO_VENDOR || (id >> 16) == VIRTIO_BALLOON_MODERN) continue;
        struct function* function = &functions[function_count];
        function->slot = slot;
        function->device_id = (uint16_t)(id >> 16);
        uint32_t bar = pci_read32(slot, PCI_BAR0) & ~0xfu;
        if (bar == 0) {
            bar = BAR_BASE + function_count * BAR_SIZE;
            pci_write32(slot, PCI_BAR0, bar);
            pci_write32(slot, PCI_BAR0 + 4, 0);
        }
        function->bar0 = bar;
        pci_write32(slot, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        unsigned visited = 0;
        for (uint8_t cap = pci_read8(slot, PCI_CAPABILITIES) & 0xfc; cap != 0 && visited < 48;
             cap = pci_read8(slot, cap + 1) & 0xfc, ++visited) {
            if (pci_read8(slot, cap) != PCI_CAP_VENDOR || pci_read8(slot, cap + 4) != 0) continue;
            const uint8_t type = pci_read8(slot, cap + 3);
            const uintptr_t address = bar + pci_read32(slot, cap + 8);
            if (type == CAP_COMMON) function->common = address;
            if (type == CAP_NOTIFY) {
                function->notify = address;
                function->notify_multiplier = pci_read32(slot, cap + 16);
            }
        }
        if (function->common && function->notify) ++function_count;
    }
    print("hostile: %u virtio functions\n", function_count);
}

/* A guest-physical address of the kind this round attacks with. */
static uint64_t hostile_address(unsigned kind) {
    switch (kind % 6) {
    case 0:
        return ram_end + (next_random() & 0xffff); /* just above RAM */
    case 1:
        return 0x100000000ull + next_random(); /* above 4 GiB */
    case 2:
        return ram_end - (next_random() & 0xff); /* across the end */
    case 3:
        return 0xe0000000u + (next_random() & 0x1fffffff); /* the MMIO hole */
    case 4:
        return (uintptr_t)table + (next_random() & 0x3ff); /* the ring itself */
    default:
        return ((uint64_t)next_random() << 32) | next_random(); /* anywhere */
    }
}

/* Fills the descriptor table and the available ring for one attack. */
static void poison_rings(unsigned round, uint16_t size) {
    const unsigned kind = round % 8;
    for (uint16_t i = 0; i < RING_SIZE; ++i) {
        struct descriptor* d = &table[i];
        d->address = hostile_address(next_random());
        d->length = (next_random() & 1) ? 0xffffffffu : (next_random() & 0x1ffff);
        d->flags = (uint16_t)(next_random() & (DESC_NEXT | DESC_WRITE | DESC_INDIRECT));
        d->next = (uint16_t)(next_random() % (size + 2));
        switch (kind) {
        case 0: /* a loop: every descriptor chains to itself */
            d->flags = DESC_NEXT | (i & 1 ? DESC_WRITE : 0);
            d->next = i;
            d->address = (uintptr_t)buffer;
            d->length = 64;
            break;
        case 1: /* a two-cycle A -> B -> A */
            d->flags = DESC_NEXT;
            d->next = (uint16_t)(i ^ 1);
            break;
        case 2: /* overlapping: every buffer is the ring and the used ring, read and written */
            d->address = (i & 1) ? (uintptr_t)table : (uintptr_t)used;
            d->length = 4096;
            d->flags = (uint16_t)((i & 2) ? DESC_WRITE : 0);
            break;
        case 3: /* indirect tables that are the table itself, or end outside RAM */
            d->flags = DESC_INDIRECT | (i & 1 ? DESC_NEXT : 0);
            d->address = (i & 2) ? (uintptr_t)table : hostile_address(next_random());
            d->length = (i & 4) ? sizeof table : 16u * (next_random() & 0xffff) + (i & 8);
            break;
        case 4: /* zero and huge lengths in long chains */
            d->length = (i & 1) ? 0 : 0x80000000u;
            d->flags = DESC_NEXT | DESC_WRITE;
            d->next = (uint16_t)((i + 1) % RING_SIZE);
            break;
        default: /* random descriptors as filled above */
            break;
        }
    }
    const uint16_t heads = (uint16_t)(kind == 7 ? next_random() : next_random() % (size + 4));
    for (uint16_t i = 0; i < RING_SIZE; ++i)
        avail[2 + i] = (uint16_t)(next_random() % (size + 3));
    avail[0] = (uint16_t)(next_random() & 1);
    avail[1] = (uint16_t)(avail[1] + heads); /* the index, possibly far ahead */
}

static void attack_function(const struct function* f, unsigned round) {
    const uintptr_t common = f->common;
    write8(common + COMMON_DEVICE_STATUS, 0); /* reset */
    write8(common + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    for (uint32_t word = 0; word < 2; ++word) {
        mmio_write32(common + COMMON_DEVICE_FEATURE_SELECT, word);
        const uint32_t offered = mmio_read32(common + COMMON_DEVICE_FEATURE);
        mmio_write32(common + COMMON_DRIVER_FEATURE_SELECT, word);
        mmio_write32(common + COMMON_DRIVER_FEATURE,
                     word == 1 ? (offered & next_random()) | 1 : offered & next_random());
    }
    write8(common + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    const uint16_t queues = read16(common + COMMON_NUM_QUEUES);
    const uint16_t size = (round & 4) ? (uint16_t)(next_random() & 0x3ff) : RING_SIZE;
    memset((void*)used, (round & 8) ? 0xff : 0, sizeof used);
    poison_rings(round, size);
    for (uint16_t queue = 0; queue < queues && queue < 8; ++queue) {
        write16(common + COMMON_QUEUE_SELECT, queue);
        write16(common + COMMON_QUEUE_SIZE, size);
        const bool elsewhere = (round % 5) == 4;
        write64(common + COMMON_QUEUE_DESC, elsewhere ? hostile_address(round) : (uintptr_t)table);
        write64(common + COMMON_QUEUE_DRIVER,
                elsewhere && (round & 1) ? hostile_address(round + 1) : (uintptr_t)avail);
        write64(common + COMMON_QUEUE_DEVICE,
                (round % 7) == 6 ? (uintptr_t)table : (uintptr_t)used);
        write16(common + COMMON_QUEUE_ENABLE, 1);
    }
    write8(common + COMMON_DEVICE_STATUS,
           STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    for (unsigned repeat = 0; repeat < 4; ++repeat) {
        for (uint16_t queue = 0; queue < queues + 2 && queue < 10; ++queue) {
            write16(common + COMMON_QUEUE_SELECT, queue);
            const uint16_t offset = read16(common + COMMON_QUEUE_NOTIFY_OFF);
            write16(f->notify + (uintptr_t)offset * f->notify_multiplier, queue);
        }
        write16(f->notify, (uint16_t)next_random()); /* a queue index that does not exist */
        avail[1] = (uint16_t)(avail[1] + (next_random() & 7));
    }
    write8(common + COMMON_DEVICE_STATUS, 0);
}

/* Random values at random offsets of every BAR, and of the device configuration windows. */
static void scribble_bars(unsigned writes) {
    for (unsigned i = 0; i < writes; ++i) {
        const struct function* f = &functions[next_random() % function_count];
        const uintptr_t at = f->bar0 + (next_random() & (BAR_SIZE - 1));
        switch (next_random() & 3) {
        case 0:
            write8(at, (uint8_t)next_random());
            break;
        case 1:
            write16(at & ~1u, (uint16_t)next_random());
            break;
        case 2:
            mmio_write32(at & ~3u, next_random());
            break;
        default:
            (void)mmio_read32(at & ~3u);
            break;
        }
    }
    for (unsigned i = 0; i < function_count; ++i)
        write8(functions[i].common + COMMON_DEVICE_STATUS, 0);
}

static bool port_ends_vm(uint32_t port) {
    return (port >= 0xf4 && port <= 0xf7) || port == 0xcf9 || port == 0x64 || port == 0x604 ||
           port == 0x605;
}

/* Random writes (and reads) of every width to every port outside the ones that end the VM. */
static void scribble_ports(void) {
    for (uint32_t port = 0; port < 0x10000; ++port) {
        if (port_ends_vm(port) || (port >= 0xcf8 && port < 0xd00)) continue;
        const uint32_t value = next_random();
        switch (value & 3) {
        case 0:
            outb((uint16_t)port, (uint8_t)(value >> 8));
            break;
        case 1:
            if (!port_ends_vm(port + 1)) outw((uint16_t)port, (uint16_t)(value >> 8));
            break;
        case 2:
            (void)inb((uint16_t)port);
            break;
        default:
            (void)inl((uint16_t)port);
            break;
        }
    }
    /* The i8042 command port with every command but the reset pulse and output-port write. */
    for (uint32_t command = 0; command < 0x100; ++command)
        if (command != 0xfe && command != 0xd1 && (command & 0xf0) != 0xf0) {
            outb(0x64, (uint8_t)command);
            outb(0x60, (uint8_t)next_random());
        }
    /* Put the console back as print() expects it: 8N1, no loopback, FIFO on, no interrupts. */
    outb(COM1 + 3, 0x03);
    outb(COM1 + 1, 0x00);
    outb(COM1 + 2, 0x07);
    outb(COM1 + 4, 0x03);
}

/* The local APIC's registers (no INIT, SIPI, NMI or SMI to ourselves: those stop this vCPU by
 * design), the IOAPIC's (entries kept masked), the guest-signal page (not its exit byte) and
 * the rest of the hole. */
static void scribble_interrupt_hardware(void) {
    for (unsigned round = 0; round < 4; ++round) {
        for (uint32_t offset = 0x20; offset < 0x400; offset += 0x10) {
            uint32_t value = next_random();
            if (offset == 0x300) value = (value & 0xff) | 0x20; /* fixed, vector >= 32 */
            if (offset >= 0x320 && offset <= 0x370) value = (value & 0x300ff) | 0x10020;
            if (offset == 0x0f0) value |= 0x100; /* stay software-enabled */
            if (offset == 0x310 || offset == 0x300 || offset == 0x0b0) continue;
            mmio_write32(APIC_BASE + offset, value);
        }
        for (unsigned i = 0; i < 64; ++i) {
            mmio_write32(IOAPIC_BASE, next_random() & 0xff);
            const uint32_t index = mmio_read32(IOAPIC_BASE) & 0xff;
            const uint32_t value = next_random();
            mmio_write32(IOAPIC_BASE + 0x10, (index & 1) ? value : (value & ~0x700u) | 0x10000);
        }
        for (uint32_t offset = 0; offset < 0x1000; offset += 1 + (next_random() & 31))
            if (offset != 1) write8(GUEST_SIGNAL_BASE + offset, (uint8_t)next_random());
        for (unsigned i = 0; i < 4096; ++i) {
            const uint32_t address = 0xc0000000u + (next_random() & 0x3ffffffc);
            if ((address & ~0xfffu) == GUEST_SIGNAL_BASE || (address & ~0xfffu) == APIC_BASE ||
                (address & ~0xfffu) == IOAPIC_BASE || address >= BAR_BASE)
                continue; /* the registers above are done with their own rules */
            if (next_random() & 1)
                mmio_write32(address, next_random());
            else
                (void)mmio_read32(address);
        }
    }
    mmio_write32(APIC_BASE + 0xf0, 0x1ff); /* software-enabled, spurious vector 0xff */
}

/* Random configuration writes to every function's header and capabilities, then the BARs and
 * command registers put back. */
static void scribble_pci_config(void) {
    for (uint32_t slot = 0; slot < 32; ++slot)
        for (unsigned i = 0; i < 64; ++i) {
            const uint32_t offset = next_random() & 0xfc;
            pci_write32(slot, offset, next_random());
            (void)pci_read32(slot, next_random() & 0xfc);
        }
    outl(PCI_CONFIG_ADDRESS, next_random()); /* other buses, functions, the enable bit clear */
    (void)inl(PCI_CONFIG_DATA);
    for (unsigned i = 0; i < function_count; ++i) {
        pci_write32(functions[i].slot, PCI_BAR0, functions[i].bar0);
        pci_write32(functions[i].slot, PCI_BAR0 + 4, 0);
        pci_write32(functions[i].slot, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    }
}

/* Bytes as fast as the guest can write them, without looking at LSR: to the terminal, then in
 * loopback mode, where they fill the receive side. */
static void flood_uart(void) {
    for (uint32_t i = 0; i < (256u << 10); ++i)
        outb(COM1, (uint8_t)('a' + i % 26));
    outb(COM1 + 4, 0x13); /* loopback */
    for (uint32_t i = 0; i < (2u << 20); ++i)
        outb(COM1, (uint8_t)i);
    outb(COM1 + 4, 0x03);
    while (inb(COM1 + 5) & 1) /* drain what loopback left in the receiver */
        (void)inb(COM1);
    print("\nhostile: UART flood done\n");
}

/* After everything: a clean virtio-rng request still works (the device recovers by reset). */
static void check_rng_recovers(void) {
    const struct function* f = 0;
    for (unsigned i = 0; i < function_count; ++i)
        if (functions[i].device_id == VIRTIO_RNG_MODERN) f = &functions[i];
    if (!check(f != 0, "a virtio-rng function")) return;
    const uintptr_t common = f->common;
    write8(common + COMMON_DEVICE_STATUS, 0);
    write8(common + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    mmio_write32(common + COMMON_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(common + COMMON_DRIVER_FEATURE, 0);
    mmio_write32(common + COMMON_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(common + COMMON_DRIVER_FEATURE, 1); /* VERSION_1 */
    write8(common + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    memset(table, 0, sizeof table);
    memset((void*)avail, 0, sizeof avail);
    memset((void*)used, 0, sizeof used);
    memset(buffer, 0, 64);
    write16(common + COMMON_QUEUE_SELECT, 0);
    write16(common + COMMON_QUEUE_SIZE, 8);
    write64(common + COMMON_QUEUE_DESC, (uintptr_t)table);
    write64(common + COMMON_QUEUE_DRIVER, (uintptr_t)avail);
    write64(common + COMMON_QUEUE_DEVICE, (uintptr_t)used);
    write16(common + COMMON_QUEUE_ENABLE, 1);
    write8(common + COMMON_DEVICE_STATUS,
           STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    table[0] = (struct descriptor){(uintptr_t)buffer, 64, DESC_WRITE, 0};
    avail[2] = 0;
    avail[1] = 1;
    write16(common + COMMON_QUEUE_SELECT, 0);
    write16(f->notify + (uintptr_t)read16(common + COMMON_QUEUE_NOTIFY_OFF) * f->notify_multiplier,
            0);
    uint32_t polls = 0;
    while (*(volatile uint16_t*)(used + 2) != 1 && polls < 5000000)
        ++polls;
    check_eq("virtio-rng answers a clean request after the attacks",
             *(volatile uint16_t*)(used + 2), 1);
    check_eq("... with 64 bytes", *(volatile uint32_t*)(used + 8), 64);
    bool zero = true;
    for (unsigned i = 0; i < 64; ++i)
        zero = zero && buffer[i] == 0;
    check(!zero, "... that are not all zero");
    write8(common + COMMON_DEVICE_STATUS, 0);
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    const char* cmdline = (info->flags & MULTIBOOT_INFO_CMDLINE) ? (const char*)info->cmdline : "";
    const char* seed = cmdline_value(cmdline, "seed");
    random_state = seed ? (uint32_t)parse_size(seed) : 1;
    if (random_state == 0) random_state = 1;
    ram_end =
        (info->flags & MULTIBOOT_INFO_MEMORY) ? 0x100000u + info->mem_upper * 1024u : 0x8000000u;
    print("hostile: seed %u, RAM ends at 0x%x\n", random_state, ram_end);
    idt_init();
    for (unsigned vector = 32; vector < 256; ++vector)
        idt_set_handler((uint8_t)vector, count_interrupt);
    pic_mask_all();
    find_functions();
    if (!check(function_count > 0, "virtio functions found")) return;
    for (unsigned round = 0; round < ROUNDS; ++round)
        for (unsigned i = 0; i < function_count; ++i)
            attack_function(&functions[i], round);
    pass("virtio rings outside RAM, in the hole, looping, overlapping, indirect");
    scribble_bars(20000);
    pass("random BAR accesses");
    scribble_ports();
    pass("random values on every port");
    scribble_interrupt_hardware();
    pass("random local APIC, IOAPIC, guest-signal and MMIO-hole accesses");
    scribble_pci_config();
    pass("random PCI configuration writes");
    flood_uart();
    pass("UART flood");
    check_rng_recovers();
    print("hostile: %u interrupts taken\n", interrupts_taken);
}
