// HttpResponse: a status, an optional JSON body, and its HTTP/1.1 wire form.
#pragma once

#include <string>
#include <string_view>

namespace vessel::api {

struct HttpResponse {
    int status{200};
    std::string body;  ///< JSON text, or empty for no body
    bool close{false}; ///< send "Connection: close" and close after writing

    /// 204 No Content: what Firecracker answers to a successful PUT or PATCH.
    static HttpResponse no_content() { return {204, {}, false}; }
    /// A JSON body with the given status.
    static HttpResponse json(int status, std::string body) { return {status, std::move(body)}; }
    /// Firecracker's error shape: {"fault_message": "..."}.
    static HttpResponse fault(int status, std::string_view message);

    /// The response as bytes on the wire (status line, headers, body).
    std::string serialize() const;
};

/// The reason phrase for a status code (RFC 9110 section 15).
std::string_view reason_phrase(int status);

} // namespace vessel::api
