// GdbServer: the GDB stub's socket and thread. It listens from create() on (so a bad address
// fails before the guest boots), serves one debugger at a time, and drives a Machine through
// GdbSession: the VM stops when a debugger attaches, runs while it continues, and every vCPU is
// a thread.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/event_fd.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "gdb/gdb_address.hpp"
#include "vm/machine.hpp"

namespace vessel::gdb {

class GdbServer {
  public:
    /// Binds and listens on `address` (a Unix socket path must not exist yet).
    static Result<std::unique_ptr<GdbServer>> create(const GdbAddress& address);
    ~GdbServer();

    /// Serves debuggers for `machine` from now on; with `wait_for_debugger` the VM's vCPUs stay
    /// parked before their first instruction until a debugger attaches and continues. Call
    /// before Machine::run().
    void start(Machine& machine, bool wait_for_debugger);
    /// The VM ended with process exit status `status`: an attached debugger gets its W reply,
    /// and the stub stops. Call after Machine::run() returned, before the Machine goes.
    void finish(int status);
    const GdbAddress& address() const { return m_address; }

  private:
    GdbServer(GdbAddress address, UniqueFd listener, EventFd wake)
        : m_address(std::move(address)), m_listener(std::move(listener)), m_wake(std::move(wake)) {}
    void serve();
    /// Serves one connection until it detaches, kills or closes, or the VM ends.
    void serve_connection(int fd);
    bool send_packet(int fd, std::string_view payload);
    /// Waits (briefly) for the debugger's '+' to the last packet.
    void await_acknowledgement(int fd);

    GdbAddress m_address;
    UniqueFd m_listener;
    EventFd m_wake;
    Machine* m_machine{nullptr};
    std::thread m_thread;

    std::mutex m_mutex; ///< guards what the vCPU threads and finish() hand over
    struct Stop {
        std::uint32_t vcpu;
        DebugEvent event;
    };
    std::vector<Stop> m_stops;
    std::optional<int> m_exit_status;
    std::string m_last_packet; ///< for a '-' from the debugger
};

} // namespace vessel::gdb
