// KvmSystem: /dev/kvm checks (KVM API, Documentation/virt/kvm/api.rst sections 4.1-4.4, 4.46).
#include "engine/kvm/kvm_system.hpp"

#include "base/kvm_uapi.hpp"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/ioctl.h>

namespace vessel::kvm {

Result<int> checked_ioctl(int fd, unsigned long request, const char* request_name, void* argument) {
    int result;
    do {
        result = ::ioctl(fd, request, argument);
    } while (result < 0 && errno == EINTR);
    if (result < 0) return make_error("{} failed: {}", request_name, std::strerror(errno));
    return result;
}

Result<int> checked_ioctl(int fd, unsigned long request, const char* request_name,
                          unsigned long argument) {
    int result;
    do {
        result = ::ioctl(fd, request, argument);
    } while (result < 0 && errno == EINTR);
    if (result < 0) return make_error("{} failed: {}", request_name, std::strerror(errno));
    return result;
}

namespace {
constexpr int expected_api_version = 12; ///< KVM_GET_API_VERSION has been 12 since Linux 2.6.22

Result<std::vector<x86::CpuidEntry>> read_supported_cpuid(int fd) {
    for (std::uint32_t capacity = 64; capacity <= 4096; capacity *= 2) {
        std::size_t bytes = sizeof(kvm_cpuid2) + capacity * sizeof(kvm_cpuid_entry2);
        std::unique_ptr<std::uint8_t[]> storage(new std::uint8_t[bytes]());
        // Sound: storage is zeroed, sized and aligned for kvm_cpuid2 plus its flexible array.
        auto* cpuid = reinterpret_cast<kvm_cpuid2*>(storage.get());
        cpuid->nent = capacity;
        if (::ioctl(fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
            if (errno == E2BIG) continue;
            return make_error("KVM_GET_SUPPORTED_CPUID failed: {}", std::strerror(errno));
        }
        std::vector<x86::CpuidEntry> entries;
        for (std::uint32_t i = 0; i < cpuid->nent; ++i) {
            const auto& e = cpuid->entries[i];
            entries.push_back({e.function, e.index,
                               (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0, e.eax, e.ebx,
                               e.ecx, e.edx});
        }
        return entries;
    }
    return make_error("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}
} // namespace

Result<KvmSystem> KvmSystem::open() {
    KvmSystem system;
    system.m_fd.reset(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!system.m_fd.valid()) return make_error("/dev/kvm: cannot open: {}", std::strerror(errno));
    // A failure here means /dev/kvm is not KVM at all (a stand-in device node, say).
    int version = TRY_CONTEXT(KVM_IOCTL(system.fd(), KVM_GET_API_VERSION, 0ul), "/dev/kvm");
    if (version != expected_api_version)
        return make_error("/dev/kvm: API version {} (Vessel needs {})", version,
                          expected_api_version);
    for (auto [capability, name] : {std::pair{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
                                    std::pair{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
                                    std::pair{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
                                    std::pair{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"}}) {
        if (!system.has_capability(capability))
            return make_error("/dev/kvm: missing capability {}", name);
    }
    system.m_vcpu_mmap_size =
        static_cast<std::size_t>(TRY(KVM_IOCTL(system.fd(), KVM_GET_VCPU_MMAP_SIZE, 0ul)));
    system.m_supported_cpuid = TRY(read_supported_cpuid(system.fd()));
    return system;
}

int KvmSystem::capability_value(long capability) const {
    return std::max(::ioctl(m_fd.get(), KVM_CHECK_EXTENSION, capability), 0);
}

} // namespace vessel::kvm
