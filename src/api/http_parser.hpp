// HttpParser: a strict, bounded, incremental HTTP/1.1 request parser for the API socket.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_request.hpp"

namespace vessel::api {

/// Parses requests from a byte stream, one at a time, with hard limits so that no client can
/// make Vessel buffer without bound. Only what the API needs is accepted: Content-Length
/// bodies (no chunked transfer coding), HTTP/1.0 and HTTP/1.1, origin-form targets.
class HttpParser {
  public:
    static constexpr std::size_t max_head_size = 16 * 1024; ///< request line + headers
    static constexpr std::size_t max_body_size = 64 * 1024;
    static constexpr std::size_t max_header_count = 64;

    /// What feed() found.
    struct Outcome {
        enum class Kind { NeedMore, Request, Error } kind{Kind::NeedMore};
        HttpRequest request; ///< for Request
        int status{0};       ///< for Error: the 4xx/5xx to answer before closing
        std::string message; ///< for Error: what was wrong, for the fault message
    };

    /// Appends bytes received from the client.
    void append(std::string_view bytes) { m_buffer.append(bytes); }
    /// Extracts the next complete request, if any. After an Error the stream cannot be
    /// resynchronised: answer and close the connection.
    Outcome next();
    /// True once per request whose head asked "Expect: 100-continue" and whose body is still
    /// missing: the server should send an interim 100 response (RFC 9110 section 10.1.1).
    bool take_continue_request();
    /// Bytes received but not yet consumed by a request.
    std::size_t buffered() const { return m_buffer.size(); }

  private:
    struct Head {
        HttpRequest request;
        std::size_t content_length{0};
        bool expect_continue{false};
    };
    Outcome parse_head(std::string_view head);
    static Outcome error(int status, std::string message);

    std::string m_buffer;
    std::optional<Head> m_head; ///< parsed head of the request whose body is awaited
    std::size_t m_head_size{0};
    bool m_continue_pending{false};
};

} // namespace vessel::api
