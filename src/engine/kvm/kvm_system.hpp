// KvmSystem: the open /dev/kvm handle and what it reports (API version, vCPU mmap size, CPUID).
#pragma once

#include <cstdint>
#include <vector>

#include "arch/x86/cpuid_policy.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace vessel::kvm {

/// ioctl wrapper that retries EINTR and turns -1 into an error naming the request.
Result<int> checked_ioctl(int fd, unsigned long request, const char* request_name, void* argument);
Result<int> checked_ioctl(int fd, unsigned long request, const char* request_name,
                          unsigned long argument);

#define KVM_IOCTL(fd, request, argument)                                                           \
    ::vessel::kvm::checked_ioctl((fd), (request), #request, (argument))

/// The /dev/kvm system fd.
class KvmSystem {
  public:
    /// Opens /dev/kvm and checks the API version and the capabilities Vessel needs.
    static Result<KvmSystem> open();

    int fd() const { return m_fd.get(); }
    std::size_t vcpu_mmap_size() const { return m_vcpu_mmap_size; }
    const std::vector<x86::CpuidEntry>& supported_cpuid() const { return m_supported_cpuid; }
    bool has_capability(long capability) const { return capability_value(capability) > 0; }
    /// KVM_CHECK_EXTENSION's answer (0 when absent; some capabilities report a limit).
    int capability_value(long capability) const;

  private:
    KvmSystem() = default;
    UniqueFd m_fd;
    std::size_t m_vcpu_mmap_size{0};
    std::vector<x86::CpuidEntry> m_supported_cpuid;
};

} // namespace vessel::kvm
