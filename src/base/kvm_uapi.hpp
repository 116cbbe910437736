// <linux/kvm.h> for C++. Debian 12's linux-libc-dev (6.1.x) declares the flexible arrays of
// kvm_cpuid2, kvm_msrs, kvm_irq_routing, ... through __DECLARE_FLEX_ARRAY as an anonymous
// struct holding an empty struct. An empty struct is 1 byte in C++ (0 in C), so under g++ those
// arrays start 4 or 8 bytes late, sizeof() grows and the ioctl numbers encode the wrong size:
// KVM_GET_SUPPORTED_CPUID fails with EINVAL. Later kernels' headers special-case C++; here a
// plain flexible array member (a GNU extension in C++) puts the entries where the kernel reads
// them. <linux/stddef.h> must come first and the macro be redefined before <linux/kvm.h>, so
// clang-format must not sort these includes.
#pragma once
// clang-format off

#include <cstddef>
#include <linux/stddef.h>

#undef __DECLARE_FLEX_ARRAY
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) TYPE NAME[]

#include <linux/kvm.h>
// clang-format on

static_assert(sizeof(kvm_cpuid2) == 8 && offsetof(kvm_cpuid2, entries) == 8,
              "kvm_cpuid2 must have the kernel's layout");
static_assert(sizeof(kvm_msrs) == 8 && offsetof(kvm_msrs, entries) == 8,
              "kvm_msrs must have the kernel's layout");
static_assert(sizeof(kvm_irq_routing) == 8 && offsetof(kvm_irq_routing, entries) == 8,
              "kvm_irq_routing must have the kernel's layout");
static_assert(KVM_GET_SUPPORTED_CPUID == 0xc008ae05, "ioctl numbers encode the kernel's sizes");
