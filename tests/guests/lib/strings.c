/* Freestanding string and command-line helpers for test guests. */
#include "guest.h"

size_t string_length(const char* text) {
    size_t length = 0;
    while (text[length])
        ++length;
    return length;
}

bool string_equal(const char* a, const char* b) {
    while (*a && *a == *b) {
        ++a;
        ++b;
    }
    return *a == *b;
}

bool memory_equal(const void* a, const void* b, size_t length) {
    const uint8_t* x = a;
    const uint8_t* y = b;
    for (size_t i = 0; i < length; ++i)
        if (x[i] != y[i]) return false;
    return true;
}

const char* cmdline_value(const char* cmdline, const char* key) {
    size_t key_length = string_length(key);
    for (const char* word = cmdline; *word;) {
        while (*word == ' ')
            ++word;
        if (memory_equal(word, key, key_length) && word[key_length] == '=')
            return word + key_length + 1;
        while (*word && *word != ' ')
            ++word;
    }
    return NULL;
}

uint64_t parse_size(const char* text) {
    uint64_t value = 0;
    while (*text >= '0' && *text <= '9')
        value = value * 10 + (uint64_t)(*text++ - '0');
    switch (*text) {
    case 'K':
    case 'k':
        return value << 10;
    case 'M':
    case 'm':
        return value << 20;
    case 'G':
    case 'g':
        return value << 30;
    default:
        return value;
    }
}

/* gcc may emit calls to these even when freestanding (GCC manual, "Standards"). */
void* memset(void* destination, int value, size_t length) {
    uint8_t* d = destination;
    while (length--)
        *d++ = (uint8_t)value;
    return destination;
}

void* memcpy(void* destination, const void* source, size_t length) {
    uint8_t* d = destination;
    const uint8_t* s = source;
    while (length--)
        *d++ = *s++;
    return destination;
}

int memcmp(const void* a, const void* b, size_t length) {
    const uint8_t* x = a;
    const uint8_t* y = b;
    for (size_t i = 0; i < length; ++i)
        if (x[i] != y[i]) return x[i] - y[i];
    return 0;
}
