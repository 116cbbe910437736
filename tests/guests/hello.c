/* hello: the smallest guest; proves loading, serial output and debug exit work. */
#include "guest.h"

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    print("Hello from a Vessel test guest\n");
    pass("hello");
}
