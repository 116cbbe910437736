// LoopbackBackend: a test NetBackend whose outside is a vector (shared by the net unit tests).
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "backends/net/net_backend.hpp"

namespace vessel::testing {

/// Frames the device sends land in `transmitted`; inject() plays a frame arriving from the
/// host (NetBackend::deliver, which real back-ends call from their I/O thread).
class LoopbackBackend final : public NetBackend {
  public:
    std::string_view name() const override { return "loopback"; }
    void inject(std::span<const std::uint8_t> frame) { deliver(frame); }
    std::vector<EthernetFrame> transmitted;

  protected:
    void transmit(std::span<const std::uint8_t> frame) override {
        transmitted.emplace_back(frame.begin(), frame.end());
    }
};

} // namespace vessel::testing
