// Test support: a persistent TAP interface for the duration of a test, as `ip tuntap add` makes.
#pragma once

#include <cstring>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string>
#include <sys/ioctl.h>

#include "base/unique_fd.hpp"

namespace vessel::testing {

/// Creates the TAP interface name (persistent, so it outlives the fd) and deletes it when
/// destroyed. created() is false where that is not possible (no root, no /dev/net/tun).
class ScopedTapInterface {
  public:
    explicit ScopedTapInterface(std::string name) : m_name(std::move(name)) {
        m_created = set_persistent(true);
    }
    ~ScopedTapInterface() {
        if (m_created) set_persistent(false);
    }
    ScopedTapInterface(const ScopedTapInterface&) = delete;
    ScopedTapInterface& operator=(const ScopedTapInterface&) = delete;

    bool created() const { return m_created; }
    const std::string& name() const { return m_name; }

  private:
    // TUNSETIFF attaches to (or creates) the interface; TUNSETPERSIST keeps it after close, or
    // lets it go with the last fd.
    bool set_persistent(bool persistent) const {
        UniqueFd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
        ifreq request{};
        std::strncpy(request.ifr_name, m_name.c_str(), IFNAMSIZ - 1);
        request.ifr_flags = IFF_TAP | IFF_NO_PI;
        return tun.valid() && ::ioctl(tun.get(), TUNSETIFF, &request) == 0 &&
               ::ioctl(tun.get(), TUNSETPERSIST, persistent ? 1 : 0) == 0;
    }

    std::string m_name;
    bool m_created{false};
};

} // namespace vessel::testing
