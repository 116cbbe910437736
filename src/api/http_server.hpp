// HttpServer: the API's HTTP/1.1 server on a Unix domain socket.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/http_parser.hpp"
#include "api/http_response.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace vessel::api {

/// Why a server of our own: Debian's cpp-httplib (0.11) cannot listen on a Unix socket, and the
/// API needs only a small, strict subset of HTTP/1.1 (Content-Length bodies, keep-alive). One
/// thread polls the listening socket and up to max_connections clients; requests are handled
/// in arrival order, so handlers never run concurrently. Each wake-up accepts every client
/// waiting (the listen queue is SOMAXCONN long), so many clients connecting at once are all
/// served. Every limit is enforced before
/// buffering (HttpParser: 16 KiB head, 64 KiB body), a client that breaks the protocol gets a
/// 4xx and is disconnected, and no client input can end the server.
///
/// No client can hold a slot for long or lock others out: a request must arrive whole within
/// request_timeout of its first byte (else 408 and the connection closes, however the bytes
/// trickle in), an idle keep-alive connection is closed after idle_timeout, a closing
/// connection lingers at most close_linger, and a client arriving when every slot is taken
/// gets the slot of the longest-idle connection (or, when all are mid-request, of the request
/// that has been arriving longest, whose client is answered 503 naming the limit); a warning
/// says so, at most once per eviction_report_interval.
class HttpServer {
  public:
    using Handler = std::function<HttpResponse(const HttpRequest&)>;
    static constexpr std::size_t max_connections = 64;
    /// A keep-alive client silent this long between requests is disconnected.
    static constexpr std::chrono::seconds idle_timeout{60};
    /// A request must be received whole this soon after its first byte.
    static constexpr std::chrono::seconds request_timeout{10};
    /// After its last answer a closing connection waits this long for the client's close.
    static constexpr std::chrono::seconds close_linger{2};
    /// On stop(), answers not yet written out get this long to reach their clients.
    static constexpr std::chrono::seconds stop_flush_timeout{1};
    /// Pipelined requests are answered only while a connection's unsent answers are below this:
    /// a client that sends many small requests for large answers and reads none cannot make
    /// the server buffer without bound. The rest wait in the parser until the answers are out.
    static constexpr std::size_t max_pending_output = 256 * 1024;
    /// Connections closed to make room are logged as a warning at most this often.
    static constexpr std::chrono::seconds eviction_report_interval{10};
    /// When accept() fails for want of descriptors (EMFILE/ENFILE) or another resource
    /// (ENOBUFS...), the listening socket stays readable: it is left out of poll() this long,
    /// then tried again, so the server does not spin while clients wait in the listen queue.
    static constexpr std::chrono::milliseconds descriptor_shortage_pause{100};

    /// Creates the socket at path (which must not exist yet) and listens on it.
    static Result<std::unique_ptr<HttpServer>> bind(const std::string& path, Handler handler);
    /// Closes every connection and removes the socket file.
    ~HttpServer();

    /// Serves until stop() is called. Runs on one thread.
    void serve();
    /// Makes serve() return soon, once the answers given so far are written (at most
    /// stop_flush_timeout more): a request whose handler ends Vessel, such as PUT
    /// /vm.send-migration, still gets its answer. Any thread.
    void stop();

    const std::string& path() const { return m_path; }

  private:
    struct Connection {
        UniqueFd fd;
        HttpParser parser;
        std::string outgoing;
        bool closing{false};      ///< close once outgoing is written
        std::size_t discarded{0}; ///< bytes read and dropped after the last answer
        std::chrono::steady_clock::time_point last_active{std::chrono::steady_clock::now()};
        /// When the first byte of the request being received arrived (valid while the parser
        /// holds bytes), or when the connection started closing.
        std::chrono::steady_clock::time_point started{std::chrono::steady_clock::now()};
    };
    HttpServer(std::string path, Handler handler) : m_path(std::move(path)), m_handler(handler) {}
    /// Accepts every waiting client (at most max_connections per call).
    void accept_clients();
    /// Returns false when the connection should be dropped now.
    bool receive(Connection& connection);
    /// Answers the complete requests buffered; true when it stopped at max_pending_output with
    /// requests possibly left.
    bool process(Connection& connection);
    /// process and send_pending until every buffered request is answered or the answers are not
    /// all out; false: drop the connection.
    bool answer(Connection& connection);
    bool send_pending(Connection& connection);
    /// Enforces request_timeout, idle_timeout and close_linger; false: drop the connection.
    bool within_deadlines(Connection& connection, std::chrono::steady_clock::time_point now);
    /// Closes the connection that has waited longest without progress, to make room; only the
    /// first `candidates` connections (those not accepted in this wake-up) may go.
    void evict_one(std::size_t candidates);
    void report_eviction(bool mid_request);
    /// accept() failed with `error` (EMFILE, ENFILE...): pause accepting; one warning per
    /// shortage, naming the limit.
    void pause_accepting(int error);
    /// How long poll() may sleep: `idle` unless accepting resumes sooner.
    int poll_timeout(int idle) const;
    void start_closing(Connection& connection);
    /// Writes what is left of every answer, for at most stop_flush_timeout.
    void flush_before_stop();

    std::string m_path;
    Handler m_handler;
    UniqueFd m_listener;
    UniqueFd m_stop_event;
    std::vector<std::unique_ptr<Connection>> m_connections;
    std::size_t m_evictions{0}; ///< connections closed to make room, since bind()
    std::chrono::steady_clock::time_point m_last_eviction_report{};
    /// Accepting is paused until then after a descriptor shortage (see pause_accepting).
    std::optional<std::chrono::steady_clock::time_point> m_accept_paused_until;
    bool m_descriptor_shortage{false}; ///< a shortage was reported and no client accepted since
    /// RLIMIT_NOFILE when bound, for the shortage warning: read then, as the API thread's
    /// seccomp filter does not allow getrlimit (prlimit64).
    std::uint64_t m_descriptor_limit{0};
};

} // namespace vessel::api
