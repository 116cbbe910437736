// Cost of one `inl` of the ACPI PM timer (port 0x608) seen from a Linux guest's user space,
// next to a port no device backs and the guest's clock_gettime (vDSO, TSC). bench/pm_timer.sh.
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void time_port(const char* what, unsigned port, int reads) {
    unsigned sink = 0;
    double start = now();
    for (int i = 0; i < reads; ++i)
        sink += inl(port);
    double end = now();
    printf("%s (port %#x): %.3f us per inl (sink %u)\n", what, port, (end - start) / reads * 1e6,
           sink);
}

int main(int argc, char** argv) {
    int reads = argc > 1 ? atoi(argv[1]) : 100000;
    if (iopl(3) != 0) {
        perror("iopl");
        return 1;
    }
    unsigned first = inl(0x608), second = first;
    for (int i = 0; i < 1000000 && second == first; ++i)
        second = inl(0x608);
    printf("pm timer advances: %s\n", second != first ? "yes" : "no");
    time_port("pm timer", 0x608, reads);
    time_port("unbacked", 0x6f0, reads);
    return 0;
}
