/* COM1 16550 output and a small printf for test guests. */
#include "guest.h"

#define COM1_THR 0x3f8         /* transmit holding register */
#define COM1_LSR 0x3fd         /* line status register */
#define LSR_THR_EMPTY (1 << 5) /* 16550 LSR bit 5: THR empty */

void serial_putc(char c) {
    while (!(inb(COM1_LSR) & LSR_THR_EMPTY)) {
    }
    outb(COM1_THR, (uint8_t)c);
}

void serial_write(const char* text, size_t length) {
    for (size_t i = 0; i < length; ++i)
        serial_putc(text[i]);
}

static void print_unsigned(uint64_t value, unsigned base, int width, char pad) {
    char digits[24];
    int count = 0;
    do {
        /* Only 32-bit division in decimal: there is no libgcc for 64-bit division here. */
        unsigned digit = base == 16 ? (unsigned)(value & 0xf) : (unsigned)((uint32_t)value % 10);
        digits[count++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        value = base == 16 ? value >> 4 : (uint32_t)value / 10;
    } while (value && count < (int)sizeof(digits));
    while (count < width--)
        serial_putc(pad);
    while (count)
        serial_putc(digits[--count]);
}

void vprint(const char* format, va_list args) {
    for (const char* p = format; *p; ++p) {
        if (*p != '%') {
            serial_putc(*p);
            continue;
        }
        ++p;
        char pad = ' ';
        if (*p == '0') {
            pad = '0';
            ++p;
        }
        int width = 0;
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        bool is_long_long = false;
        if (p[0] == 'l' && p[1] == 'l') {
            is_long_long = true;
            p += 2;
        }
        switch (*p) {
        case 's': {
            const char* text = va_arg(args, const char*);
            serial_write(text ? text : "(null)", text ? string_length(text) : 6);
            break;
        }
        case 'c':
            serial_putc((char)va_arg(args, int));
            break;
        case 'd': {
            int value = va_arg(args, int);
            if (value < 0) {
                serial_putc('-');
                value = -value;
            }
            print_unsigned((uint32_t)value, 10, width, pad);
            break;
        }
        case 'u':
            print_unsigned(va_arg(args, uint32_t), 10, width, pad);
            break;
        case 'x':
            print_unsigned(is_long_long ? va_arg(args, uint64_t) : va_arg(args, uint32_t), 16,
                           width, pad);
            break;
        case '%':
            serial_putc('%');
            break;
        default:
            serial_putc('?');
            break;
        }
        if (!*p) break;
    }
}

void print(const char* format, ...) {
    va_list args;
    va_start(args, format);
    vprint(format, args);
    va_end(args);
}
