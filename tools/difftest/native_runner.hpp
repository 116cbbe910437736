// NativeRunner: runs sequences on the host CPU in a sandboxed child process (seccomp strict mode,
// fixed code and data mappings, the register state loaded and read back through signal frames).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "base/result.hpp"
#include "machine_state.hpp"
#include "sequence_generator.hpp"

namespace vessel::difftest {

/// The user-visible registers as the child loads and reports them (plain data in shared memory).
struct RegisterFile {
    std::uint64_t gpr[16];
    std::uint64_t rip;
    std::uint64_t rflags;
    std::uint64_t xmm[16][2];
    std::uint32_t mxcsr;
    std::uint64_t ymm_upper[16][2]; ///< bits 128-255 of ymm0-15
    bool avx;                       ///< the host saves YMM state in signal frames
};

/// Shared between the parent and the child: the job and its result.
struct NativeExchange {
    std::uint8_t code[layout::code_size];
    RegisterFile start;
    std::uint8_t start_data[layout::data_size];
    RegisterFile end;
    std::uint8_t end_data[layout::data_size];
    std::int32_t signal;      ///< signal that stopped the sequence (SIGILL for the ud2)
    std::int32_t trap_number; ///< exception vector from the signal frame
};

class NativeRunner {
  public:
    static Result<NativeRunner> create();
    NativeRunner(NativeRunner&& other) noexcept;
    NativeRunner& operator=(NativeRunner&&) = delete;
    ~NativeRunner();

    /// Runs one sequence; a crashed or hung child is reported as Outcome::Crashed and replaced.
    MachineState run(const Sequence& sequence);

  private:
    explicit NativeRunner(NativeExchange* exchange) : m_exchange(exchange) {}
    Result<void> start_child();
    void stop_child();

    NativeExchange* m_exchange;
    pid_t m_child{-1};
    int m_job_fd{-1};  ///< parent writes one byte per job
    int m_done_fd{-1}; ///< child answers one byte per result
};

} // namespace vessel::difftest
