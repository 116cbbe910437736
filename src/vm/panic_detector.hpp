// PanicDetector: watches the guest console for a Linux kernel panic and ends the VM with it.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/exit_request.hpp"

namespace vessel {

/// Fed every console byte; when a completed line contains "Kernel panic - not syncing", asks
/// for an exit with exit_status::guest_panic and that line as the message. A panicked Linux
/// otherwise spins forever, so this is what turns a panic into a failing exit status.
class PanicDetector {
  public:
    explicit PanicDetector(ExitSink& exits) : m_exits(exits) {}
    void feed(std::span<const std::uint8_t> bytes);

  private:
    static constexpr std::size_t max_line = 512;
    ExitSink& m_exits;
    std::string m_line;
    bool m_reported{false};
};

} // namespace vessel
