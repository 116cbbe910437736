// The ways an instruction leaves the software CPU early: a guest exception, an engine failure,
// a shutdown. Thrown inside the CPU core, caught by the same vCPU's run loop.
#pragma once

#include <cstdint>
#include <string>

#include "arch/x86/exceptions.hpp"

namespace vessel::soft {

/// A guest-visible exception raised while executing an instruction. Thrown by the CPU core and
/// caught by the same vCPU's run loop before anything leaves the interpreter: it unwinds the
/// half-executed instruction the way hardware discards it.
struct GuestFault {
    std::uint8_t vector; ///< x86::vector::*
    std::uint32_t error_code;
    bool has_error_code;
};

/// The engine cannot continue (unimplemented instruction, code outside RAM). Caught by the run
/// loop.
struct EngineFailure {
    std::string message;
};

/// Triple fault / shutdown. Caught by the run loop.
struct ShutdownSignal {};

} // namespace vessel::soft
