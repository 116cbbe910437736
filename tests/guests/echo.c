/* echo: reads lines from COM1's receiver and prints "echo: LINE" for each; "quit" ends with PASS.
   The API tests use it to check that Vessel's stdin reaches the guest's serial port. */
#include "guest.h"

#define COM1_RBR 0x3f8         /* receiver buffer register (DLAB 0) */
#define COM1_LSR 0x3fd         /* line status register */
#define LSR_DATA_READY (1 << 0) /* 16550 LSR bit 0: a received byte waits in RBR */
#define LINE_MAX 80

static char read_char(void) {
    while (!(inb(COM1_LSR) & LSR_DATA_READY)) {
    }
    return (char)inb(COM1_RBR);
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    print("echo: ready\n");
    char line[LINE_MAX + 1];
    while (true) {
        size_t length = 0;
        for (char c = read_char(); c != '\n' && c != '\r'; c = read_char()) {
            if (length < LINE_MAX) line[length++] = c;
        }
        line[length] = '\0';
        if (length == 0) continue;
        if (string_equal(line, "quit")) break;
        print("echo: %s\n", line);
    }
    pass("echo");
}
