// Terminal: the user's console for the guest's serial port (raw mode, escape key, signals).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <termios.h>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace vessel {

/// Connects stdin/stdout to the guest console. When stdin is a terminal it is put in raw mode
/// (restored on destruction) and Ctrl-A x quits; Ctrl-A Ctrl-A sends a literal Ctrl-A. When it
/// is not, stdin is forwarded as is and SIGINT/SIGTERM quit.
class Terminal {
  public:
    /// Returns how many bytes the guest accepted (the rest is offered again later).
    using InputSink = std::function<std::size_t(std::span<const std::uint8_t>)>;
    using QuitHandler = std::function<void(int status, std::string reason)>;

    /// Blocks SIGINT/SIGTERM for the process (call before starting other threads). With
    /// handle_signals false the caller watches the signals itself and the terminal only
    /// forwards input (API mode).
    static Result<std::unique_ptr<Terminal>> open(bool handle_signals = true);
    ~Terminal();

    bool interactive() const { return m_interactive; }
    /// Starts the input thread.
    void start(InputSink input, QuitHandler quit);
    /// Stops the input thread and restores the terminal.
    void stop();
    /// Writes guest output to stdout.
    static void write_output(std::span<const std::uint8_t> bytes);

  private:
    Terminal() = default;
    void input_loop();
    void handle_input(std::span<const std::uint8_t> bytes);

    bool m_interactive{false};
    bool m_saved_valid{false};
    termios m_saved{};
    UniqueFd m_signal_fd;
    UniqueFd m_stop_fd;
    std::thread m_thread;
    InputSink m_input;
    QuitHandler m_quit;
    std::vector<std::uint8_t> m_pending;
    bool m_escape{false};
    bool m_stdin_open{true};
};

} // namespace vessel
