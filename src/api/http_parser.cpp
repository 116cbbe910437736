// HttpParser: request line, header fields and Content-Length framing (RFC 9112).
#include "api/http_parser.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace vessel::api {

namespace {

constexpr std::string_view line_end = "\r\n";
constexpr std::string_view head_end = "\r\n\r\n";

// RFC 9110 section 5.6.2: tchar.
bool is_token_char(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char);
}

// Field values: visible ASCII, obs-text, space and tab (RFC 9110 section 5.5); no controls.
bool is_field_value(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return byte == '\t' || (byte >= 0x20 && byte != 0x7f);
    });
}

// Origin-form target (RFC 9112 section 3.2.1): starts with '/', visible ASCII only.
bool is_origin_form(std::string_view target) {
    if (target.empty() || target.front() != '/') return false;
    return std::all_of(target.begin(), target.end(), [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return byte > 0x20 && byte < 0x7f;
    });
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

std::string lower(std::string_view text) {
    std::string result(text);
    std::transform(result.begin(), result.end(), result.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return result;
}

// Printable excerpt of client input for error messages.
std::string excerpt(std::string_view text) {
    std::string result;
    for (char c : text.substr(0, 64)) {
        auto byte = static_cast<unsigned char>(c);
        result += (byte >= 0x20 && byte < 0x7f) ? c : '?';
    }
    return text.size() > 64 ? result + "..." : result;
}

} // namespace

HttpParser::Outcome HttpParser::error(int status, std::string message) {
    Outcome outcome;
    outcome.kind = Outcome::Kind::Error;
    outcome.status = status;
    outcome.message = std::move(message);
    return outcome;
}

HttpParser::Outcome HttpParser::next() {
    if (!m_head) {
        // RFC 9112 section 2.2: ignore at least one empty line before a request line.
        while (m_buffer.starts_with(line_end))
            m_buffer.erase(0, line_end.size());
        std::size_t end = m_buffer.find(head_end);
        if (end == std::string::npos) {
            if (m_buffer.size() > max_head_size)
                return error(431, fmt::format("request head exceeds {} bytes", max_head_size));
            return {};
        }
        if (end + head_end.size() > max_head_size)
            return error(431, fmt::format("request head exceeds {} bytes", max_head_size));
        Outcome head = parse_head(std::string_view(m_buffer).substr(0, end + line_end.size()));
        if (head.kind == Outcome::Kind::Error) return head;
        m_head_size = end + head_end.size();
    }
    if (m_buffer.size() - m_head_size < m_head->content_length) return {};
    Outcome outcome;
    outcome.kind = Outcome::Kind::Request;
    outcome.request = std::move(m_head->request);
    outcome.request.body = m_buffer.substr(m_head_size, m_head->content_length);
    m_buffer.erase(0, m_head_size + m_head->content_length);
    m_head.reset();
    m_continue_pending = false;
    return outcome;
}

bool HttpParser::take_continue_request() {
    return std::exchange(m_continue_pending, false);
}

// head: the request line and header lines, each ending in CRLF.
HttpParser::Outcome HttpParser::parse_head(std::string_view head) {
    Head parsed;
    std::size_t line_length = head.find(line_end);
    std::string_view request_line = head.substr(0, line_length);
    head.remove_prefix(line_length + line_end.size());

    std::size_t first_space = request_line.find(' ');
    std::size_t last_space = request_line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == last_space)
        return error(400, fmt::format("malformed request line '{}'", excerpt(request_line)));
    std::string_view method = request_line.substr(0, first_space);
    std::string_view target = request_line.substr(first_space + 1, last_space - first_space - 1);
    std::string_view version = request_line.substr(last_space + 1);
    if (!is_token(method))
        return error(400, fmt::format("invalid request method '{}'", excerpt(method)));
    if (!is_origin_form(target))
        return error(400, fmt::format("invalid request target '{}'", excerpt(target)));
    bool http10 = version == "HTTP/1.0";
    if (!http10 && version != "HTTP/1.1") {
        if (version.starts_with("HTTP/") && version.size() == 8)
            return error(505, fmt::format("unsupported HTTP version '{}'", excerpt(version)));
        return error(400, fmt::format("malformed HTTP version '{}'", excerpt(version)));
    }
    parsed.request.method = std::string(method);
    parsed.request.path = std::string(target.substr(0, target.find('?')));
    parsed.request.keep_alive = !http10;

    std::optional<std::size_t> content_length;
    while (!head.empty()) {
        line_length = head.find(line_end);
        std::string_view line = head.substr(0, line_length);
        head.remove_prefix(line_length + line_end.size());
        if (parsed.request.headers.size() == max_header_count)
            return error(431, fmt::format("more than {} header fields", max_header_count));
        std::size_t colon = line.find(':');
        // RFC 9112 section 5.1: no whitespace between name and colon; obs-fold is rejected.
        if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
            return error(400, fmt::format("malformed header line '{}'", excerpt(line)));
        std::string name = lower(line.substr(0, colon));
        std::string_view value = trim(line.substr(colon + 1));
        if (!is_field_value(value))
            return error(400, fmt::format("invalid characters in header '{}'", name));
        if (name == "content-length") {
            std::size_t length = 0;
            auto [end, status] = std::from_chars(value.data(), value.data() + value.size(), length);
            if (value.empty() || status != std::errc() || end != value.data() + value.size())
                return error(400, fmt::format("invalid Content-Length '{}'", excerpt(value)));
            if (content_length && *content_length != length)
                return error(400, "conflicting Content-Length headers");
            content_length = length;
        } else if (name == "transfer-encoding") {
            return error(501, "Transfer-Encoding is not supported; send a Content-Length body");
        } else if (name == "connection") {
            std::string token = lower(value);
            if (token == "close") parsed.request.keep_alive = false;
            if (token == "keep-alive") parsed.request.keep_alive = true;
        } else if (name == "expect") {
            if (lower(value) != "100-continue")
                return error(417, fmt::format("unsupported expectation '{}'", excerpt(value)));
            parsed.expect_continue = !http10;
        }
        parsed.request.headers.emplace_back(std::move(name), std::string(value));
    }
    parsed.content_length = content_length.value_or(0);
    if (parsed.content_length > max_body_size)
        return error(413, fmt::format("request body of {} bytes exceeds the {} byte limit",
                                      parsed.content_length, max_body_size));
    m_continue_pending = parsed.expect_continue && parsed.content_length > 0;
    m_head = std::move(parsed);
    return {};
}

} // namespace vessel::api
