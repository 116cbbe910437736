// ConsoleOutput: where a Machine sends the bytes its guest writes to its consoles.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

namespace vessel {

/// Receives guest console output (COM1 and the virtio console) on a device thread.
using ConsoleOutput = std::function<void(std::span<const std::uint8_t>)>;

} // namespace vessel
