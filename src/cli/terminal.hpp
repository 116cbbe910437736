// Terminal: the user's console for the guest's serial port (raw mode, escape key, signals).
#pragma once

#include <atomic>
#include <csignal>
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
/// is not, stdin is forwarded as is and SIGINT/SIGTERM quit. The terminal is restored on every
/// way out: a normal end, a quit signal, and (from a signal handler) a crash or another signal
/// whose default is to end the process; SIGPIPE is ignored, a closed stdout only ends the
/// guest's console output.
///
/// The terminal is only touched (raw mode, reads) while this process is in its foreground
/// process group: a Vessel started with `&` runs on without being stopped by SIGTTOU/SIGTTIN
/// (both are ignored) and takes the console over once brought to the foreground with `fg`.
class Terminal {
  public:
    /// Returns how many bytes the guest accepted (the rest is offered again later).
    using InputSink = std::function<std::size_t(std::span<const std::uint8_t>)>;
    using QuitHandler = std::function<void(int status, std::string reason)>;

    /// The signals that end Vessel cleanly, through a signalfd, with status 130: SIGINT,
    /// SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2.
    static sigset_t quit_signals();

    /// Puts the terminal's saved modes back now, if raw mode changed them: for a handler about
    /// to end Vessel (the seccomp violation report). Async-signal-safe.
    static void restore_modes_at_fatal_exit();

    /// Blocks quit_signals() for the process (call before starting other threads). With
    /// handle_signals false the caller watches the signals itself and the terminal only
    /// forwards input (API mode). With console_active false the terminal stays as it is (not
    /// raw) until activate(): an API-mode Vessel needs it only once the guest runs.
    static Result<std::unique_ptr<Terminal>> open(bool handle_signals = true,
                                                  bool console_active = true);
    ~Terminal();

    bool interactive() const { return m_interactive; }
    /// Bytes to send once stdin (not a terminal) reaches its end, e.g. the guest tty's EOF
    /// key; `unfinished_line` is sent instead when the input did not end with a newline (a tty
    /// needs one EOF key to finish that line and another for the end). Call before start().
    void set_end_of_input(std::vector<std::uint8_t> marker,
                          std::vector<std::uint8_t> unfinished_line);
    /// Starts the input thread.
    void start(InputSink input, QuitHandler quit);
    /// The guest console is live: raw mode from now on, whenever Vessel is in the foreground.
    void activate();
    /// Stops the input thread and restores the terminal.
    void stop();
    /// Writes guest output to stdout.
    static void write_output(std::span<const std::uint8_t> bytes);

  private:
    Terminal() = default;
    void input_loop();
    void handle_input(std::span<const std::uint8_t> bytes);
    /// stdin reached its end (or failed): stop reading, queue the end-of-input marker.
    void end_of_input();
    void offer_pending();
    /// Whether stdin can be read and its modes changed without SIGTTIN/SIGTTOU: it is not a
    /// terminal, or this process is in the terminal's foreground process group.
    bool owns_stdin() const;
    /// Raw mode once the console is active and the terminal is ours (no-op otherwise).
    void enter_raw_mode();

    bool m_interactive{false};
    std::atomic<bool> m_console_active{true};
    bool m_saved_valid{false};
    termios m_saved{};
    UniqueFd m_signal_fd;
    UniqueFd m_stop_fd;
    UniqueFd m_wake_fd; ///< written by activate() so the input loop enters raw mode at once
    std::thread m_thread;
    InputSink m_input;
    QuitHandler m_quit;
    std::vector<std::uint8_t> m_pending;
    bool m_escape{false};
    bool m_stdin_open{true};
    std::vector<std::uint8_t> m_end_marker;            ///< sent after the last input byte
    std::vector<std::uint8_t> m_end_marker_unfinished; ///< the same after an unfinished line
    std::uint8_t m_last_input{'\n'};                   ///< the last byte read from stdin
};

} // namespace vessel
