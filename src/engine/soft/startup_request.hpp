// StartupRequest: an INIT or start-up IPI delivered to a vCPU, for the interpreter to act on.
#pragma once

#include <cstdint>

namespace vessel::soft {

/// An INIT or start-up IPI a CPU received and the interpreter has not yet acted on.
/// INIT: the interpreter resets the CPU into wait-for-SIPI (the local APIC has already reset
/// its own registers). StartUp: a CPU waiting for SIPI starts in real mode at CS = vector << 8,
/// IP = 0 (Intel SDM Vol. 3A 9.4.4.1 / 11.6.1); a SIPI to a CPU not waiting for one is dropped.
struct StartupRequest {
    enum class Kind : std::uint8_t { Init, StartUp };
    Kind kind;
    std::uint8_t vector{0}; ///< StartUp only: the start page number
};

} // namespace vessel::soft
