// HttpServer: the API's HTTP/1.1 server on a Unix domain socket.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "api/http_parser.hpp"
#include "api/http_response.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace vessel::api {

/// Why a server of our own: Debian's cpp-httplib (0.11) cannot listen on a Unix socket, and the
/// API needs only a small, strict subset of HTTP/1.1 (Content-Length bodies, keep-alive, a few
/// clients). One thread polls the listening socket and up to max_connections clients;
/// requests are handled in arrival order, so handlers never run concurrently. Every limit is
/// enforced before buffering (HttpParser: 16 KiB head, 64 KiB body), a client that breaks the
/// protocol gets a 4xx and is disconnected, and no client input can end the server.
class HttpServer {
  public:
    using Handler = std::function<HttpResponse(const HttpRequest&)>;
    static constexpr std::size_t max_connections = 8;
    /// A client silent this long is disconnected, so idle clients cannot hold every slot.
    static constexpr std::chrono::seconds idle_timeout{60};

    /// Creates the socket at path (which must not exist yet) and listens on it.
    static Result<std::unique_ptr<HttpServer>> bind(const std::string& path, Handler handler);
    /// Closes every connection and removes the socket file.
    ~HttpServer();

    /// Serves until stop() is called. Runs on one thread.
    void serve();
    /// Makes serve() return soon. Any thread.
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
    };
    HttpServer(std::string path, Handler handler) : m_path(std::move(path)), m_handler(handler) {}
    void accept_client();
    /// Returns false when the connection should be dropped now.
    bool receive(Connection& connection);
    void process(Connection& connection);
    bool send_pending(Connection& connection);

    std::string m_path;
    Handler m_handler;
    UniqueFd m_listener;
    UniqueFd m_stop_event;
    std::vector<std::unique_ptr<Connection>> m_connections;
};

} // namespace vessel::api
