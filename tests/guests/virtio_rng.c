/* virtio_rng: a minimal virtio 1.2 PCI driver for the modern entropy device (virtio 1.2 §4.1,
 * §2.7, §5.4): PCI scan through 0xcf8/0xcfc, capability walk, feature negotiation, one split
 * queue polled in guest RAM (identity-mapped, paging off), device reset, then the queue's
 * used-buffer interrupt through MSI-X to the local APIC (PCI 3.0 §6.8.2), masking included. */
#include "guest.h"

/* PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2). */
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY (1u << 1) /* memory space enable */
#define PCI_COMMAND_MASTER (1u << 2) /* bus master enable */
#define PCI_STATUS 0x06
#define PCI_STATUS_CAPABILITIES (1u << 4)
#define PCI_BAR0 0x10
#define PCI_BAR_IO (1u << 0)
#define PCI_BAR_TYPE_64 (2u << 1) /* memory BAR type field: 64-bit */
#define PCI_CAPABILITIES 0x34
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11
/* Where this guest puts a BAR the firmware left unassigned (QEMU -kernel boots have no BIOS
 * enumeration): inside the 32-bit hole, below the local APIC and IOAPIC. */
#define UNASSIGNED_BAR_BASE 0xe0000000u

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_RNG_MODERN 0x1044 /* 0x1040 + device type 4 (§4.1.2.1) */

/* virtio_pci_cap (§4.1.4): cfg_type, bar, offset, length; notify adds a multiplier. */
#define VIRTIO_CAP_COMMON 1
#define VIRTIO_CAP_NOTIFY 2
#define VIRTIO_CAP_ISR 3
#define VIRTIO_CAP_DEVICE 4

/* struct virtio_pci_common_cfg offsets (§4.1.4.3). */
#define COMMON_DEVICE_FEATURE_SELECT 0x00
#define COMMON_DEVICE_FEATURE 0x04
#define COMMON_DRIVER_FEATURE_SELECT 0x08
#define COMMON_DRIVER_FEATURE 0x0c
#define COMMON_NUM_QUEUES 0x12
#define COMMON_DEVICE_STATUS 0x14
#define COMMON_QUEUE_SELECT 0x16
#define COMMON_QUEUE_SIZE 0x18
#define COMMON_QUEUE_MSIX_VECTOR 0x1a
#define COMMON_QUEUE_ENABLE 0x1c
#define COMMON_QUEUE_NOTIFY_OFF 0x1e
#define COMMON_QUEUE_DESC 0x20
#define COMMON_QUEUE_DRIVER 0x28
#define COMMON_QUEUE_DEVICE 0x30

/* Device status bits (§2.1) and the one feature this driver needs (§6). */
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 64
#define STATUS_FAILED 128
#define FEATURE_VERSION_1_HIGH (1u << 0) /* bit 32: in the second feature word */

#define COMMON_CONFIG_MSIX_VECTOR 0x10
#define NO_VECTOR 0xffff /* VIRTIO_MSI_NO_VECTOR (§4.1.5.1.2) */

/* MSI-X capability (PCI 3.0 §6.8.2): message control, table and PBA offset/BIR; table entries
 * of address low/high, data, vector control. */
#define MSIX_CONTROL 2
#define MSIX_TABLE 4
#define MSIX_PBA 8
#define MSIX_CONTROL_ENABLE (1u << 15)
#define MSIX_CONTROL_FUNCTION_MASK (1u << 14)
#define MSIX_ENTRY_SIZE 16
#define MSIX_VECTOR_MASKED 1u
/* Local APIC (SDM vol. 3A §11.4, §11.11): MSI address for APIC ID 0, physical destination;
 * data = vector, fixed delivery, edge. */
#define APIC_BASE 0xfee00000u
#define APIC_EOI 0x0b0
#define APIC_SVR 0x0f0
#define APIC_SVR_ENABLE (1u << 8)
#define APIC_SPURIOUS_VECTOR 0xff
#define CONFIG_VECTOR 0x51 /* MSI-X entry 0: configuration changes */
#define QUEUE_VECTOR 0x50  /* MSI-X entry 1: queue 0 */
/* sti/cli windows offered to a pending interrupt before calling it lost. */
#define INTERRUPT_WINDOWS 100000

#define DESCRIPTOR_WRITE 2 /* VIRTQ_DESC_F_WRITE (§2.7.5) */
#define QUEUE_SIZE 8
#define BUFFER_SIZE 64
/* Polls of the used ring before giving up. Vessel completes a request during the notify write;
 * QEMU's rng backend answers from its main loop, a few thousand polls later at most. */
#define POLL_LIMIT 5000000

struct virtq_descriptor {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};
struct virtq_avail {
    uint16_t flags;
    uint16_t index;
    uint16_t ring[QUEUE_SIZE];
};
struct virtq_used_element {
    uint32_t id;
    uint32_t length;
};
struct virtq_used {
    uint16_t flags;
    uint16_t index;
    struct virtq_used_element ring[QUEUE_SIZE];
};

/* The ring in guest RAM: descriptor table 16-byte aligned, used ring 4-byte aligned (§2.7). */
static struct virtq_descriptor descriptors[QUEUE_SIZE] __attribute__((aligned(4096)));
static volatile struct virtq_avail avail __attribute__((aligned(4096)));
static volatile struct virtq_used used __attribute__((aligned(4096)));
static uint8_t buffers[2][BUFFER_SIZE] __attribute__((aligned(64)));

struct virtio_pci {
    uint32_t slot;
    uint32_t bar_address[6];
    uintptr_t common;
    uintptr_t notify;
    uint32_t notify_multiplier;
    uintptr_t isr;
    uintptr_t notify_address; /* queue 0's doorbell */
    uint8_t msix_capability;
    uintptr_t msix_table;
    uintptr_t msix_pba;
    uint16_t avail_index;
};

static uint32_t pci_address(uint32_t slot, uint32_t offset) {
    return 0x80000000u | (slot << 11) | (offset & 0xfc);
}
static uint32_t pci_read32(uint32_t slot, uint32_t offset) {
    outl(PCI_CONFIG_ADDRESS, pci_address(slot, offset));
    return inl(PCI_CONFIG_DATA);
}
static uint16_t pci_read16(uint32_t slot, uint32_t offset) {
    outl(PCI_CONFIG_ADDRESS, pci_address(slot, offset));
    return inw(PCI_CONFIG_DATA + (offset & 2));
}
static uint8_t pci_read8(uint32_t slot, uint32_t offset) {
    outl(PCI_CONFIG_ADDRESS, pci_address(slot, offset));
    return inb(PCI_CONFIG_DATA + (offset & 3));
}
static void pci_write32(uint32_t slot, uint32_t offset, uint32_t value) {
    outl(PCI_CONFIG_ADDRESS, pci_address(slot, offset));
    outl(PCI_CONFIG_DATA, value);
}
static void pci_write16(uint32_t slot, uint32_t offset, uint16_t value) {
    outl(PCI_CONFIG_ADDRESS, pci_address(slot, offset));
    outw(PCI_CONFIG_DATA + (offset & 2), value);
}

static uint8_t mmio_read8(uintptr_t address) {
    return *(volatile uint8_t*)address;
}
static uint16_t mmio_read16(uintptr_t address) {
    return *(volatile uint16_t*)address;
}
static void mmio_write8(uintptr_t address, uint8_t value) {
    *(volatile uint8_t*)address = value;
}
static void mmio_write16(uintptr_t address, uint16_t value) {
    *(volatile uint16_t*)address = value;
}
static void barrier(void) {
    __asm__ volatile("lock; addl $0, (%%esp)" ::: "memory");
}

/* Bus 0, function 0 of each slot; returns the slot or -1. */
static int find_device(uint16_t vendor, uint16_t device) {
    for (uint32_t slot = 0; slot < 32; ++slot) {
        const uint32_t id = pci_read32(slot, 0);
        if ((id & 0xffff) == vendor && (id >> 16) == device) return (int)slot;
    }
    return -1;
}

/* The address of memory BAR index, assigning one when the firmware left it at 0. */
static uint32_t memory_bar(uint32_t slot, uint32_t index) {
    const uint32_t offset = PCI_BAR0 + 4 * index;
    const uint32_t value = pci_read32(slot, offset);
    if (value & PCI_BAR_IO) return 0;
    if ((value & ~0xfu) != 0) return value & ~0xfu;
    pci_write32(slot, offset, 0xffffffffu); /* sizing: the low address bits read back as 0 */
    const uint32_t size = ~(pci_read32(slot, offset) & ~0xfu) + 1;
    const uint32_t address = (UNASSIGNED_BAR_BASE + size - 1) & ~(size - 1);
    pci_write32(slot, offset, address);
    if (value & PCI_BAR_TYPE_64) pci_write32(slot, offset + 4, 0);
    print("virtio_rng: BAR%u was unassigned; placed %u bytes at 0x%08x\n", index, size, address);
    return pci_read32(slot, offset) & ~0xfu;
}

/* Walks the capability list for the common, notify and ISR structures (§4.1.4). */
static bool map_structures(struct virtio_pci* device) {
    if (!(pci_read16(device->slot, PCI_STATUS) & PCI_STATUS_CAPABILITIES)) {
        fail("virtio capability list", "status register has no capability list");
        return false;
    }
    unsigned visited = 0;
    for (uint8_t cap = pci_read8(device->slot, PCI_CAPABILITIES) & 0xfc; cap != 0 && visited < 48;
         cap = pci_read8(device->slot, cap + 1) & 0xfc, ++visited) {
        if (pci_read8(device->slot, cap) != PCI_CAP_VENDOR) continue;
        const uint8_t type = pci_read8(device->slot, cap + 3);
        const uint8_t bar = pci_read8(device->slot, cap + 4);
        if (bar > 5 || type < VIRTIO_CAP_COMMON || type > VIRTIO_CAP_DEVICE) continue;
        if (device->bar_address[bar] == 0) device->bar_address[bar] = memory_bar(device->slot, bar);
        const uintptr_t address = device->bar_address[bar] + pci_read32(device->slot, cap + 8);
        if (type == VIRTIO_CAP_COMMON && device->common == 0) device->common = address;
        if (type == VIRTIO_CAP_ISR && device->isr == 0) device->isr = address;
        if (type == VIRTIO_CAP_NOTIFY && device->notify == 0) {
            device->notify = address;
            device->notify_multiplier = pci_read32(device->slot, cap + 16);
        }
    }
    if (device->common == 0 || device->notify == 0 || device->isr == 0) {
        fail("virtio capabilities", "common 0x%x notify 0x%x isr 0x%x", (uint32_t)device->common,
             (uint32_t)device->notify, (uint32_t)device->isr);
        return false;
    }
    pass("virtio capabilities: common, notify and ISR structures in memory BARs");
    return true;
}

static uint8_t device_status(const struct virtio_pci* device) {
    return mmio_read8(device->common + COMMON_DEVICE_STATUS);
}
static void set_status(const struct virtio_pci* device, uint8_t status) {
    mmio_write8(device->common + COMMON_DEVICE_STATUS, status);
}
static void write64(uintptr_t address, uint64_t value) {
    mmio_write32(address, (uint32_t)value);
    mmio_write32(address + 4, (uint32_t)(value >> 32));
}
static uint64_t read64(uintptr_t address) {
    return mmio_read32(address) | ((uint64_t)mmio_read32(address + 4) << 32);
}

/* Reset (§4.1.4.3.1: the driver waits for status 0), then ACKNOWLEDGE, DRIVER, VERSION_1 only,
 * FEATURES_OK read back (§3.1.1). */
static bool reset_and_negotiate(const struct virtio_pci* device) {
    set_status(device, 0);
    for (unsigned poll = 0; device_status(device) != 0; ++poll)
        if (poll > 1000) {
            fail("device reset", "status stays 0x%x", device_status(device));
            return false;
        }
    set_status(device, STATUS_ACKNOWLEDGE);
    set_status(device, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    mmio_write32(device->common + COMMON_DEVICE_FEATURE_SELECT, 1);
    const uint32_t offered_high = mmio_read32(device->common + COMMON_DEVICE_FEATURE);
    if (!(offered_high & FEATURE_VERSION_1_HIGH)) {
        fail("VIRTIO_F_VERSION_1 offered", "feature bits 32-63: 0x%x", offered_high);
        return false;
    }
    mmio_write32(device->common + COMMON_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(device->common + COMMON_DRIVER_FEATURE, 0);
    mmio_write32(device->common + COMMON_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(device->common + COMMON_DRIVER_FEATURE, FEATURE_VERSION_1_HIGH);
    set_status(device, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(device_status(device) & STATUS_FEATURES_OK)) {
        fail("FEATURES_OK accepted", "status 0x%x", device_status(device));
        return false;
    }
    return true;
}

/* Queue 0 at the static rings, emptied; then DRIVER_OK (§3.1.1 steps 7-8). */
static bool set_up_queue(struct virtio_pci* device, uint16_t vector) {
    memset(descriptors, 0, sizeof descriptors);
    memset((void*)&avail, 0, sizeof avail);
    memset((void*)&used, 0, sizeof used);
    device->avail_index = 0;
    const uintptr_t common = device->common;
    mmio_write16(common + COMMON_QUEUE_SELECT, 0);
    const uint16_t maximum = mmio_read16(common + COMMON_QUEUE_SIZE);
    if (maximum < QUEUE_SIZE) {
        fail("queue 0 size", "maximum %u is below %u", maximum, QUEUE_SIZE);
        return false;
    }
    mmio_write16(common + COMMON_QUEUE_SIZE, QUEUE_SIZE);
    write64(common + COMMON_QUEUE_DESC, (uintptr_t)descriptors);
    write64(common + COMMON_QUEUE_DRIVER, (uintptr_t)&avail);
    write64(common + COMMON_QUEUE_DEVICE, (uintptr_t)&used);
    mmio_write16(common + COMMON_QUEUE_MSIX_VECTOR, vector);
    if (mmio_read16(common + COMMON_QUEUE_MSIX_VECTOR) != vector) {
        fail("queue 0 MSI-X vector", "wrote %u, reads %u", vector,
             mmio_read16(common + COMMON_QUEUE_MSIX_VECTOR));
        return false;
    }
    const uint16_t notify_offset = mmio_read16(common + COMMON_QUEUE_NOTIFY_OFF);
    device->notify_address = device->notify + (uintptr_t)notify_offset * device->notify_multiplier;
    mmio_write16(common + COMMON_QUEUE_ENABLE, 1);
    set_status(device,
               STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    const uint8_t status = device_status(device);
    if (status & (STATUS_NEEDS_RESET | STATUS_FAILED) || !(status & STATUS_DRIVER_OK)) {
        fail("DRIVER_OK", "status 0x%x", status);
        return false;
    }
    return true;
}

/* Posts buffer as one device-writable descriptor and rings the queue's doorbell. */
static void post(struct virtio_pci* device, uint8_t* buffer, uint16_t descriptor) {
    descriptors[descriptor] = (struct virtq_descriptor){(uintptr_t)buffer, BUFFER_SIZE,
                                                        DESCRIPTOR_WRITE, 0};
    avail.ring[device->avail_index % QUEUE_SIZE] = descriptor;
    barrier(); /* the descriptor and ring slot before the index (§2.7.13) */
    ++device->avail_index;
    avail.index = device->avail_index;
    barrier();
    mmio_write16(device->notify_address, 0); /* queue index 0 (§4.1.5.2) */
}

/* post(), then polls the used ring. Returns the length the device reports, or -1 on timeout
 * or a wrong used element. */
static int request(struct virtio_pci* device, uint8_t* buffer, uint16_t descriptor) {
    post(device, buffer, descriptor);
    for (uint32_t poll = 0; poll < POLL_LIMIT; ++poll) {
        if (used.index == device->avail_index) {
            barrier();
            const volatile struct virtq_used_element* element =
                &used.ring[(device->avail_index - 1) % QUEUE_SIZE];
            if (element->id != descriptor) {
                fail("used element id", "got %u, posted %u", element->id, descriptor);
                return -1;
            }
            return (int)element->length;
        }
        __asm__ volatile("pause");
    }
    fail("request completes", "used index still %u after %u polls (status 0x%x)", used.index,
         POLL_LIMIT, device_status(device));
    return -1;
}

static bool all_zero(const uint8_t* bytes, size_t length) {
    for (size_t i = 0; i < length; ++i)
        if (bytes[i] != 0) return false;
    return true;
}

static void check_entropy(struct virtio_pci* device) {
    int first = request(device, buffers[0], 0);
    int second = request(device, buffers[1], 3);
    if (first < 0 || second < 0) return;
    check_eq("first request fills 64 bytes", (uint32_t)first, BUFFER_SIZE);
    check_eq("second request fills 64 bytes", (uint32_t)second, BUFFER_SIZE);
    check(!all_zero(buffers[0], BUFFER_SIZE), "first buffer is not all zero");
    check(!memory_equal(buffers[0], buffers[1], BUFFER_SIZE), "the two buffers differ");
}

/* Writing status 0 resets the device: queue enable, addresses and vector back to their
 * power-on values (§2.4, §4.1.4.3.1), and the queue works again from a fresh ring. */
static void check_reset(struct virtio_pci* device) {
    set_status(device, 0);
    check_eq("status after reset", device_status(device), 0);
    mmio_write16(device->common + COMMON_QUEUE_SELECT, 0);
    check_eq("queue_enable after reset", mmio_read16(device->common + COMMON_QUEUE_ENABLE), 0);
    check_eq("queue_desc after reset", read64(device->common + COMMON_QUEUE_DESC), 0);
    check_eq("queue_device after reset", read64(device->common + COMMON_QUEUE_DEVICE), 0);
    check_eq("queue_msix_vector after reset",
             mmio_read16(device->common + COMMON_QUEUE_MSIX_VECTOR), 0xffff);
    if (!reset_and_negotiate(device) || !set_up_queue(device, NO_VECTOR)) return;
    memset(buffers[0], 0, BUFFER_SIZE);
    const int length = request(device, buffers[0], 5);
    if (length < 0) return;
    check_eq("request after reset fills 64 bytes", (uint32_t)length, BUFFER_SIZE);
    check_eq("used index restarts at 1 after reset", used.index, 1);
    check(!all_zero(buffers[0], BUFFER_SIZE), "buffer after reset is not all zero");
}

static volatile uint32_t queue_interrupts;
static volatile uint32_t config_interrupts;

static void apic_write(uint32_t offset, uint32_t value) {
    mmio_write32(APIC_BASE + offset, value);
}
static void queue_handler(struct interrupt_frame* frame) {
    (void)frame;
    ++queue_interrupts;
    apic_write(APIC_EOI, 0);
}
static void config_handler(struct interrupt_frame* frame) {
    (void)frame;
    ++config_interrupts;
    apic_write(APIC_EOI, 0);
}

/* Opens short interrupt windows until the queue interrupt count reaches want (bounded, no hlt:
 * a lost interrupt must fail, not hang). */
static bool wait_queue_interrupts(uint32_t want) {
    for (uint32_t window = 0; window < INTERRUPT_WINDOWS && queue_interrupts < want; ++window)
        __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    return queue_interrupts >= want;
}

static bool find_msix(struct virtio_pci* device) {
    unsigned visited = 0;
    for (uint8_t cap = pci_read8(device->slot, PCI_CAPABILITIES) & 0xfc; cap != 0 && visited < 48;
         cap = pci_read8(device->slot, cap + 1) & 0xfc, ++visited)
        if (pci_read8(device->slot, cap) == PCI_CAP_MSIX) {
            device->msix_capability = cap;
            const uint32_t table = pci_read32(device->slot, cap + MSIX_TABLE);
            const uint32_t pba = pci_read32(device->slot, cap + MSIX_PBA);
            if ((table & 7) > 5 || (pba & 7) > 5) return false;
            if (device->bar_address[table & 7] == 0)
                device->bar_address[table & 7] = memory_bar(device->slot, table & 7);
            if (device->bar_address[pba & 7] == 0)
                device->bar_address[pba & 7] = memory_bar(device->slot, pba & 7);
            device->msix_table = device->bar_address[table & 7] + (table & ~7u);
            device->msix_pba = device->bar_address[pba & 7] + (pba & ~7u);
            return true;
        }
    return false;
}

static void program_msix_entry(const struct virtio_pci* device, uint32_t entry, uint8_t vector,
                               bool masked) {
    const uintptr_t at = device->msix_table + MSIX_ENTRY_SIZE * entry;
    mmio_write32(at, APIC_BASE); /* destination APIC ID 0 */
    mmio_write32(at + 4, 0);
    mmio_write32(at + 8, vector);
    mmio_write32(at + 12, masked ? MSIX_VECTOR_MASKED : 0);
}

/* The queue's used-buffer notification as an MSI-X message: delivered once per request while
 * unmasked; while its entry is masked, held in the PBA and sent at the unmask (§6.8.2.9). */
static void check_msix(struct virtio_pci* device) {
    if (!find_msix(device)) {
        fail("MSI-X capability", "none in the capability list");
        return;
    }
    const uint16_t control = pci_read16(device->slot, device->msix_capability + MSIX_CONTROL);
    if (!check(((control & 0x7ff) + 1) >= 2, "MSI-X table has a config and a queue entry")) return;
    idt_init();
    idt_set_handler(QUEUE_VECTOR, queue_handler);
    idt_set_handler(CONFIG_VECTOR, config_handler);
    pic_mask_all();
    apic_write(APIC_SVR, APIC_SVR_ENABLE | APIC_SPURIOUS_VECTOR);
    program_msix_entry(device, 0, CONFIG_VECTOR, false);
    program_msix_entry(device, 1, QUEUE_VECTOR, false);
    pci_write16(device->slot, device->msix_capability + MSIX_CONTROL,
                (control | MSIX_CONTROL_ENABLE) & ~MSIX_CONTROL_FUNCTION_MASK);

    if (!reset_and_negotiate(device)) return;
    mmio_write16(device->common + COMMON_CONFIG_MSIX_VECTOR, 0);
    check_eq("config_msix_vector reads back entry 0",
             mmio_read16(device->common + COMMON_CONFIG_MSIX_VECTOR), 0);
    if (!set_up_queue(device, 1)) return;
    pass("MSI-X enabled, queue 0 on entry 1");

    if (request(device, buffers[0], 0) < 0) return;
    check(wait_queue_interrupts(1), "used buffer raises the queue's MSI-X vector");
    check_eq("one queue interrupt per request", queue_interrupts, 1);

    program_msix_entry(device, 1, QUEUE_VECTOR, true); /* mask entry 1 */
    if (request(device, buffers[1], 1) < 0) return;
    wait_queue_interrupts(2);
    check_eq("masked entry delivers nothing", queue_interrupts, 1);
    check((mmio_read32(device->msix_pba) & 2) != 0, "masked entry sets its pending bit");
    program_msix_entry(device, 1, QUEUE_VECTOR, false); /* unmask: the pending message goes */
    check(wait_queue_interrupts(2), "unmasking sends the pending message");
    check_eq("pending bit clears once sent", mmio_read32(device->msix_pba) & 2, 0);

    /* Interrupt-driven, as a real driver works: notify, then wait for the interrupt alone (no
     * polling); the used ring must already hold the buffer when it arrives. On KVM the notify
     * is an ioeventfd, the device runs on Vessel's I/O thread and the MSI goes by irqfd, so
     * nothing happens on this vCPU's thread between the write and the interrupt. */
    memset(buffers[0], 0, BUFFER_SIZE);
    post(device, buffers[0], 2);
    check(wait_queue_interrupts(3), "a notify alone brings the queue interrupt");
    check_eq("the buffer is used when the interrupt arrives", used.index, device->avail_index);
    const volatile struct virtq_used_element* element =
        &used.ring[(device->avail_index - 1) % QUEUE_SIZE];
    check_eq("the interrupt-driven request is descriptor 2", element->id, 2);
    check_eq("the interrupt-driven request fills 64 bytes", element->length, BUFFER_SIZE);
    check(!all_zero(buffers[0], BUFFER_SIZE), "the interrupt-driven buffer is not all zero");
    check_eq("no configuration interrupt", config_interrupts, 0);
    set_status(device, 0); /* leave the device reset */
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    struct virtio_pci device = {0};
    const int slot = find_device(VIRTIO_VENDOR, VIRTIO_RNG_MODERN);
    if (slot < 0) {
        fail("find virtio-rng", "no PCI function %04x:%04x on bus 0", VIRTIO_VENDOR,
             VIRTIO_RNG_MODERN);
        return;
    }
    device.slot = (uint32_t)slot;
    print("virtio_rng: found %04x:%04x in slot %u\n", VIRTIO_VENDOR, VIRTIO_RNG_MODERN,
          device.slot);
    /* Decode off while BARs may be sized and placed, then memory space and bus mastering on. */
    const uint16_t command = pci_read16(device.slot, PCI_COMMAND);
    pci_write16(device.slot, PCI_COMMAND, command & ~(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
    if (!map_structures(&device)) return;
    pci_write16(device.slot, PCI_COMMAND, command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    check_eq("num_queues", mmio_read16(device.common + COMMON_NUM_QUEUES), 1);
    if (!reset_and_negotiate(&device)) return;
    pass("feature negotiation: VERSION_1 only, FEATURES_OK");
    if (!set_up_queue(&device, NO_VECTOR)) return;
    pass("queue 0 set up, DRIVER_OK");
    check_entropy(&device);
    check_reset(&device);
    check_msix(&device);
}
