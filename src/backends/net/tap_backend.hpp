// TapBackend: frames to and from a host TAP interface (/dev/net/tun), as `--net tap=NAME`.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "backends/net/net_backend.hpp"
#include "base/event_fd.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace vessel {

/// A TAP interface: what the guest sends appears on the host interface NAME and vice versa. The
/// interface must exist and be usable by this user (`ip tuntap add NAME mode tap user USER`);
/// Vessel never creates one, not even with CAP_NET_ADMIN. A reader thread polls the TAP fd.
class TapBackend final : public NetBackend {
  public:
    static Result<std::unique_ptr<TapBackend>> create(const std::string& interface_name);
    ~TapBackend() override;

    std::string_view name() const override { return m_name; }

  protected:
    void transmit(std::span<const std::uint8_t> frame) override;

  private:
    TapBackend() = default;
    void run();

    std::string m_name;
    UniqueFd m_tap;
    EventFd m_stop;
    std::thread m_thread;
};

} // namespace vessel
