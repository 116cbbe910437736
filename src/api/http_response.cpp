// HttpResponse: wire form and Firecracker-style fault bodies.
#include "api/http_response.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vessel::api {

HttpResponse HttpResponse::fault(int status, std::string_view message) {
    nlohmann::json body = {{"fault_message", message}};
    // Replace invalid UTF-8 (e.g. echoed from a bad request) instead of throwing.
    return {status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), false};
}

std::string HttpResponse::serialize() const {
    std::string text =
        fmt::format("HTTP/1.1 {} {}\r\nServer: Vessel\r\n", status, reason_phrase(status));
    if (close) text += "Connection: close\r\n";
    if (status == 204) return text + "\r\n"; // RFC 9110 section 15.3.5: no content, no length
    if (!body.empty()) text += "Content-Type: application/json\r\n";
    text += fmt::format("Content-Length: {}\r\n\r\n", body.size());
    return text + body;
}

std::string_view reason_phrase(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

} // namespace vessel::api
