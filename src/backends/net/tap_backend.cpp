// TapBackend: frames to and from a host TAP interface (/dev/net/tun), as `--net tap=NAME`.
#include "backends/net/tap_backend.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/log.hpp"
#include "base/thread_role.hpp"

namespace vessel {

namespace {
constexpr const char* tun_device = "/dev/net/tun";

Result<void> check_tap_exists(const std::string& interface_name) {
    const std::string interface_directory = "/sys/class/net/" + interface_name;
    if (::access(interface_directory.c_str(), F_OK) != 0)
        return make_error("TAP interface '{}' does not exist (create it first: ip tuntap add {} "
                          "mode tap user $USER)",
                          interface_name, interface_name);
    // Only tun/tap interfaces have tun_flags (drivers/net/tun.c).
    if (::access((interface_directory + "/tun_flags").c_str(), F_OK) != 0)
        return make_error("TAP interface '{}': the interface exists but is not a TAP interface",
                          interface_name);
    return {};
}
} // namespace

Result<std::unique_ptr<TapBackend>> TapBackend::create(const std::string& interface_name) {
    if (interface_name.empty() || interface_name.size() >= IFNAMSIZ)
        return make_error("TAP interface '{}': name must have 1 to {} characters", interface_name,
                          IFNAMSIZ - 1);
    if (interface_name.find('/') != std::string::npos || interface_name == "." ||
        interface_name == "..")
        return make_error("TAP interface '{}': not a valid interface name", interface_name);
    // TUNSETIFF on a name no interface has creates a new TAP, which nothing on the host is
    // connected to: the guest would see a link and no traffic. Attach only to an existing TAP.
    // (An interface created between this check and TUNSETIFF is attached to as well.)
    TRY(check_tap_exists(interface_name));
    std::unique_ptr<TapBackend> backend(new TapBackend());
    backend->m_name = "tap " + interface_name;
    backend->m_tap.reset(::open(tun_device, O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!backend->m_tap.valid()) {
        const int error = errno;
        if (error == ENOENT)
            return make_error("TAP interface '{}': {} does not exist (is the tun module loaded?)",
                              interface_name, tun_device);
        return make_error("TAP interface '{}': cannot open {}: {}", interface_name, tun_device,
                          std::strerror(error));
    }
    ifreq request{};
    std::strncpy(request.ifr_name, interface_name.c_str(), IFNAMSIZ - 1);
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (::ioctl(backend->m_tap.get(), TUNSETIFF, &request) < 0) {
        const int error = errno;
        return make_error("TAP interface '{}': cannot attach: {}{}", interface_name,
                          std::strerror(error),
                          error == EPERM ? " (create it first: ip tuntap add " + interface_name +
                                               " mode tap user $USER)"
                                         : "");
    }
    backend->m_stop = TRY_CONTEXT(EventFd::create(), "TAP interface " + interface_name);
    backend->m_thread = std::thread([raw = backend.get()] {
        enter_thread_role(ThreadRole::Net);
        raw->run();
    });
    log::debug("network: attached to TAP interface {}", interface_name);
    return backend;
}

TapBackend::~TapBackend() {
    if (m_thread.joinable()) {
        m_stop.signal();
        m_thread.join();
    }
}

void TapBackend::transmit(std::span<const std::uint8_t> frame) {
    // A TAP write takes the whole frame or nothing; a full host queue drops it, as a wire would.
    if (::write(m_tap.get(), frame.data(), frame.size()) < 0 && errno != EAGAIN)
        log::debug("{}: write: {}", m_name, std::strerror(errno));
}

void TapBackend::run() {
    std::vector<std::uint8_t> buffer(max_frame_size);
    std::array<pollfd, 2> fds = {pollfd{.fd = m_tap.get(), .events = POLLIN, .revents = 0},
                                 pollfd{.fd = m_stop.fd(), .events = POLLIN, .revents = 0}};
    while (true) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            log::error("{}: poll: {}", m_name, std::strerror(errno));
            return;
        }
        if (fds[1].revents != 0) return;
        if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            log::error("{}: the interface went away", m_name);
            return;
        }
        while (true) {
            const ssize_t length = ::read(m_tap.get(), buffer.data(), buffer.size());
            if (length <= 0) break;
            deliver({buffer.data(), static_cast<std::size_t>(length)});
        }
    }
}

} // namespace vessel
