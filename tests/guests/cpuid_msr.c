/* cpuid_msr: CPUID leaves 0 and 1, RDMSR/WRMSR of IA32_APIC_BASE and EFER, RDTSC monotonic. */
#include "guest.h"

#define CPUID_1_EDX_FPU (1u << 0) /* SDM vol. 2A, CPUID leaf 1 EDX feature bits */
#define CPUID_1_EDX_TSC (1u << 4)
#define CPUID_1_EDX_MSR (1u << 5)
#define CPUID_1_EDX_APIC (1u << 9)
#define MSR_APIC_BASE 0x1b
#define APIC_BASE_BSP (1u << 8)
#define MSR_EFER 0xc0000080
#define EFER_SCE (1u << 0) /* SYSCALL enable: harmless to toggle in 32-bit mode */

static void check_cpuid(void) {
    uint32_t regs[4];
    cpuid(0, 0, regs);
    char vendor[13];
    memcpy(vendor, &regs[1], 4);
    memcpy(vendor + 4, &regs[3], 4);
    memcpy(vendor + 8, &regs[2], 4);
    vendor[12] = 0;
    bool printable = true;
    for (int i = 0; i < 12; ++i)
        printable = printable && vendor[i] >= 0x20 && vendor[i] < 0x7f;
    print("  cpuid max leaf 0x%x vendor \"%s\"\n", regs[0], vendor);
    if (regs[0] >= 1 && regs[0] < 0x100 && printable)
        pass("cpuid leaf 0: max leaf and vendor string");
    else
        fail("cpuid leaf 0: max leaf and vendor string", "max leaf 0x%x", regs[0]);

    cpuid(1, 0, regs);
    uint32_t family = (regs[0] >> 8) & 0xf;
    uint32_t needed = CPUID_1_EDX_FPU | CPUID_1_EDX_TSC | CPUID_1_EDX_MSR | CPUID_1_EDX_APIC;
    print("  cpuid 1: eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x\n", regs[0], regs[1], regs[2], regs[3]);
    if (family != 0 && (regs[3] & needed) == needed)
        pass("cpuid leaf 1: family and fpu/tsc/msr/apic features");
    else
        fail("cpuid leaf 1: family and fpu/tsc/msr/apic features", "eax 0x%x edx 0x%x", regs[0],
             regs[3]);
}

static void check_msrs(void) {
    uint64_t apic_base = rdmsr(MSR_APIC_BASE);
    if ((apic_base & 0xfffff000u) == 0xfee00000u && (apic_base & APIC_BASE_BSP))
        pass("IA32_APIC_BASE: default base, BSP flag");
    else
        fail("IA32_APIC_BASE: default base, BSP flag", "0x%llx", apic_base);
    wrmsr(MSR_APIC_BASE, apic_base);
    check_eq("IA32_APIC_BASE write of the same value reads back", rdmsr(MSR_APIC_BASE), apic_base);

    uint64_t efer = rdmsr(MSR_EFER);
    wrmsr(MSR_EFER, efer ^ EFER_SCE);
    uint64_t toggled = rdmsr(MSR_EFER);
    wrmsr(MSR_EFER, efer);
    check_eq("EFER.SCE toggles through wrmsr", toggled, efer ^ EFER_SCE);
    check_eq("EFER restored", rdmsr(MSR_EFER), efer);
}

static void check_tsc(void) {
    uint64_t first = rdtsc();
    uint64_t second = rdtsc();
    for (int i = 0; i < 10 && second == first; ++i)
        second = rdtsc();
    if (second > first)
        pass("rdtsc increases");
    else
        fail("rdtsc increases", "0x%llx then 0x%llx", first, second);
}

void guest_main(uint32_t magic, const struct multiboot_info* info) {
    (void)magic;
    (void)info;
    check_cpuid();
    check_msrs();
    check_tsc();
}
