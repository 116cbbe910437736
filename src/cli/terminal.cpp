// Terminal: raw mode and putting it back on every way out; a poll loop over stdin, signals, stop.
#include "cli/terminal.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/exit_request.hpp"
#include "base/log.hpp"
#include "base/log_sink.hpp"
#include "base/thread_role.hpp"

namespace vessel {

namespace {
constexpr std::uint8_t escape_key = 0x01;          ///< Ctrl-A
constexpr int retry_milliseconds = 10;             ///< how soon to re-offer input the UART refused
constexpr int foreground_check_milliseconds = 200; ///< background: how often to look for `fg`
// A terminal drops the oldest keystrokes beyond this when the guest does not read; piped input
// is not read further until the guest took some (back-pressure, nothing lost).
constexpr std::size_t pending_limit = 1u << 16;

// The modes to put back, readable from a signal handler: set before raw mode is entered.
termios saved_modes{};
std::atomic<bool> modes_changed{false};
std::atomic<bool> stdout_closed{false};

// Signals that would end Vessel at once, without the clean exit the quit signals get: a crash,
// an abort, a resource limit, a timer nobody set. Their handler only puts the terminal back
// (tcsetattr is async-signal-safe) and dies by the same signal, so the status stays honest.
constexpr int fatal_signals[] = {SIGABRT,   SIGBUS,  SIGFPE,  SIGILL,    SIGSEGV,
                                 SIGSYS,    SIGTRAP, SIGXCPU, SIGXFSZ,   SIGALRM,
                                 SIGVTALRM, SIGPROF, SIGIO,   SIGSTKFLT, SIGPWR};

void restore_saved_modes() {
    if (modes_changed.exchange(false)) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_modes);
}

extern "C" void restore_terminal_and_die(int signal_number) {
    restore_saved_modes();
    ::raise(signal_number); // SA_RESETHAND | SA_NODEFER: the default action, now
}

void install_fatal_signal_handlers() {
    static std::once_flag installed;
    std::call_once(installed, [] {
        for (int signal_number : fatal_signals) {
            struct sigaction current {};
            if (::sigaction(signal_number, nullptr, &current) != 0 || current.sa_handler != SIG_DFL)
                continue; // someone chose a disposition already: keep it
            struct sigaction action {};
            action.sa_handler = restore_terminal_and_die;
            action.sa_flags = SA_RESETHAND | SA_NODEFER;
            sigemptyset(&action.sa_mask);
            ::sigaction(signal_number, &action, nullptr);
        }
    });
}
} // namespace

void Terminal::restore_modes_at_fatal_exit() {
    restore_saved_modes();
}

sigset_t Terminal::quit_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2})
        sigaddset(&signals, signal_number);
    return signals;
}

Result<std::unique_ptr<Terminal>> Terminal::open(bool handle_signals, bool console_active) {
    std::unique_ptr<Terminal> terminal(new Terminal());
    if (handle_signals) {
        sigset_t signals = quit_signals();
        if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0)
            return make_error("cannot block signals: {}", std::strerror(errno));
        terminal->m_signal_fd.reset(::signalfd(-1, &signals, SFD_CLOEXEC));
        if (!terminal->m_signal_fd.valid())
            return make_error("cannot create console descriptors: {}", std::strerror(errno));
    }
    // A background Vessel must not be stopped for writing guest output or log lines to the
    // terminal (TOSTOP), nor for a read racing a change of foreground job: ignored, such a
    // write goes through and such a read fails with EIO. Mode changes are guarded by
    // owns_stdin() instead, since an ignored SIGTTOU would let them through.
    std::signal(SIGTTOU, SIG_IGN);
    std::signal(SIGTTIN, SIG_IGN);
    // A closed stdout (`vessel run | head`) ends the console output, not Vessel: write_output
    // sees EPIPE instead of the process dying of SIGPIPE with the terminal left raw.
    std::signal(SIGPIPE, SIG_IGN);
    terminal->m_stop_fd.reset(::eventfd(0, EFD_CLOEXEC));
    terminal->m_wake_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!terminal->m_stop_fd.valid() || !terminal->m_wake_fd.valid())
        return make_error("cannot create console descriptors: {}", std::strerror(errno));
    terminal->m_interactive = ::isatty(STDIN_FILENO) == 1;
    terminal->m_console_active.store(console_active);
    terminal->enter_raw_mode();
    return terminal;
}

bool Terminal::owns_stdin() const {
    return !m_interactive || ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
}

void Terminal::enter_raw_mode() {
    if (!m_interactive || m_saved_valid || !m_console_active.load() || !owns_stdin()) return;
    if (::tcgetattr(STDIN_FILENO, &m_saved) != 0) return;
    m_saved_valid = true;
    install_fatal_signal_handlers();
    saved_modes = m_saved;
    modes_changed.store(true);
    termios raw = m_saved;
    // Raw input (no line editing, echo or signal keys) but normal output processing, so
    // guest "\n" still starts a new line.
    raw.c_iflag &=
        ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
}

void Terminal::activate() {
    m_console_active.store(true);
    std::uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(m_wake_fd.get(), &one, sizeof one);
}

Terminal::~Terminal() {
    stop();
}

void Terminal::set_end_of_input(std::vector<std::uint8_t> marker,
                                std::vector<std::uint8_t> unfinished_line) {
    m_end_marker = std::move(marker);
    m_end_marker_unfinished = std::move(unfinished_line);
}

void Terminal::start(InputSink input, QuitHandler quit) {
    m_input = std::move(input);
    m_quit = std::move(quit);
    m_thread = std::thread([this] {
        enter_thread_role(ThreadRole::Terminal);
        input_loop();
    });
}

void Terminal::stop() {
    if (m_thread.joinable()) {
        std::uint64_t one = 1;
        [[maybe_unused]] auto written = ::write(m_stop_fd.get(), &one, sizeof one);
        m_thread.join();
    }
    if (m_saved_valid) {
        restore_saved_modes();
        m_saved_valid = false;
    }
}

void Terminal::write_output(std::span<const std::uint8_t> bytes) {
    if (stdout_closed.load(std::memory_order_relaxed)) return;
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t written = ::write(STDOUT_FILENO, bytes.data() + done, bytes.size() - done);
        if (written < 0 && errno == EINTR) continue;
        if (written < 0 && errno != EAGAIN) {
            // The reader went away (EPIPE) or stdout failed: that is the end of the console
            // output. The guest runs on; Vessel ends as it would otherwise.
            if (!stdout_closed.exchange(true))
                log::info("stdout: {}: guest console output is discarded from now on",
                          std::strerror(errno));
            return;
        }
        if (written <= 0) return; // non-blocking and full: drop rather than block the vCPU
        done += static_cast<std::size_t>(written);
    }
    log::note_console_output(bytes);
}

void Terminal::input_loop() {
    while (true) {
        // A terminal that belongs to another job is neither read nor switched to raw mode;
        // look again now and then, for `fg`.
        bool owned = owns_stdin();
        if (owned) enter_raw_mode();
        pollfd fds[4] = {
            {m_stop_fd.get(), POLLIN, 0},
            {m_signal_fd.valid() ? m_signal_fd.get() : -1, POLLIN, 0},
            {m_stdin_open && owned && (m_interactive || m_pending.size() < pending_limit)
                 ? STDIN_FILENO
                 : -1,
             POLLIN, 0},
            {m_wake_fd.get(), POLLIN, 0}};
        int timeout = !m_pending.empty() ? retry_milliseconds
                      : !owned           ? foreground_check_milliseconds
                                         : -1;
        int ready = ::poll(fds, 4, timeout);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return;
        if (fds[0].revents) return;
        if (fds[3].revents & POLLIN) {
            std::uint64_t count = 0;
            [[maybe_unused]] auto got = ::read(m_wake_fd.get(), &count, sizeof count);
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info{};
            if (::read(m_signal_fd.get(), &info, sizeof info) == sizeof info) {
                m_quit(exit_status::interrupted,
                       fmt::format("stopped by signal {}",
                                   strsignal(static_cast<int>(info.ssi_signo))));
                return;
            }
        }
        if (!m_pending.empty()) offer_pending();
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            std::uint8_t buffer[256];
            ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
            if (got <= 0) {
                if (got < 0 && errno == EINTR) continue;
                // EIO from a terminal that just went to another job: look again later.
                if (got < 0 && errno == EIO && m_interactive && !owns_stdin()) continue;
                end_of_input(); // EOF or error: keep running, stop reading
                continue;
            }
            handle_input({buffer, static_cast<std::size_t>(got)});
        }
    }
}

void Terminal::handle_input(std::span<const std::uint8_t> bytes) {
    for (std::uint8_t byte : bytes) {
        if (m_interactive && m_escape) {
            m_escape = false;
            if (byte == 'x' || byte == 'X') {
                m_quit(exit_status::clean, "quit from the console (Ctrl-A x)");
                return;
            }
            if (byte != escape_key) continue; // unknown escape: swallow
        } else if (m_interactive && byte == escape_key) {
            m_escape = true;
            continue;
        }
        m_pending.push_back(byte);
    }
    if (!bytes.empty()) m_last_input = bytes.back();
    if (m_interactive && m_pending.size() > pending_limit)
        m_pending.erase(m_pending.begin(), m_pending.end() - static_cast<long>(pending_limit));
    offer_pending();
}

void Terminal::end_of_input() {
    m_stdin_open = false;
    if (m_interactive) return;
    const auto& marker = m_last_input == '\n' ? m_end_marker : m_end_marker_unfinished;
    m_pending.insert(m_pending.end(), marker.begin(), marker.end());
    offer_pending();
}

void Terminal::offer_pending() {
    std::size_t accepted = m_input(m_pending);
    m_pending.erase(m_pending.begin(), m_pending.begin() + static_cast<long>(accepted));
}

} // namespace vessel
