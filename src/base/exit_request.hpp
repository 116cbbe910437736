// ExitRequest and ExitSink: how devices, engines and the user ask the VM (and Vessel) to end,
// and with which process exit status.
#pragma once

#include <cstdint>
#include <string>

namespace vessel {

/// Why the VM ends. The CLI turns it into Vessel's exit status and message.
struct ExitRequest {
    enum class Kind {
        DebugExit,   ///< isa-debug-exit write; status = (value << 1) | 1
        Reset,       ///< guest reset (i8042 pulse, triple-fault-free reboot); status 0
        PowerOff,    ///< ACPI or other power-off; status 0
        Halted,      ///< the boot vCPU halted with interrupts disabled (cli; hlt); status 0
        TripleFault, ///< shutdown condition; non-zero
        EngineError, ///< the engine could not continue; non-zero
        Panic,       ///< guest kernel panic reported; non-zero
        UserQuit,    ///< console escape or signal
    };
    Kind kind;
    int status;
    std::string message;
};

/// Vessel's own exit statuses are even, so they never collide with debug-exit's odd ones.
namespace exit_status {
constexpr int clean = 0;         ///< guest reset, power-off or halt; console quit (Ctrl-A x)
constexpr int usage = 2;         ///< bad command line, configuration or input file
constexpr int triple_fault = 4;  ///< the guest triple-faulted
constexpr int engine_error = 6;  ///< the engine could not run the guest further
constexpr int guest_panic = 8;   ///< the guest kernel reported a panic
constexpr int interrupted = 130; ///< a quit signal (SIGINT, SIGTERM, ...), as shells report SIGINT
} // namespace exit_status

/// Receives the first exit request; later ones are ignored.
class ExitSink {
  public:
    virtual ~ExitSink() = default;
    virtual void request_exit(ExitRequest request) = 0;
};

} // namespace vessel
