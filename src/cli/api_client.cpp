// A client of Vessel's API socket: one request per connection, the fault message on errors.
#include "cli/api_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/unique_fd.hpp"

namespace vessel {

/// One HTTP/1.1 request on a fresh connection to the API socket (Connection: close).
Result<ApiAnswer> api_request(const std::string& socket_path, std::string_view method,
                              std::string_view path, const std::string& body) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(address.sun_path))
        return make_error("API socket {}: path too long", socket_path);
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    // Sound: sockaddr_un is the sockaddr the call expects for AF_UNIX.
    if (!fd.valid() ||
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
        return make_error("API socket {}: cannot connect: {}", socket_path, std::strerror(errno));
    const std::string request = fmt::format("{} {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                                            "application/json\r\nContent-Length: {}\r\n"
                                            "Connection: close\r\n\r\n{}",
                                            method, path, body.size(), body);
    for (std::size_t sent = 0; sent < request.size();) {
        const ssize_t result =
            ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0)
            return make_error("API socket {}: cannot send: {}", socket_path, std::strerror(errno));
        sent += static_cast<std::size_t>(result);
    }
    std::string answer;
    char buffer[4096];
    while (true) {
        const ssize_t result = ::recv(fd.get(), buffer, sizeof(buffer), 0);
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0) break;
        answer.append(buffer, static_cast<std::size_t>(result));
        const std::size_t header_end = answer.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        // Done once the body Content-Length announces is complete.
        std::size_t length = 0;
        const std::size_t field = answer.find("Content-Length:");
        if (field != std::string::npos && field < header_end)
            length = std::strtoul(answer.c_str() + field + 15, nullptr, 10);
        if (answer.size() >= header_end + 4 + length) break;
    }
    int status = 0;
    if (std::sscanf(answer.c_str(), "HTTP/1.1 %d", &status) != 1)
        return make_error("API socket {}: no HTTP answer to {} {}", socket_path, method, path);
    const std::size_t header_end = answer.find("\r\n\r\n");
    return ApiAnswer{status, header_end == std::string::npos ? "" : answer.substr(header_end + 4)};
}

/// The request's answer when it succeeded (2xx), else an error with the API's fault_message.
Result<ApiAnswer> api_call(const std::string& socket_path, std::string_view method,
                           std::string_view path, const nlohmann::json& body) {
    ApiAnswer answer =
        TRY(api_request(socket_path, method, path, body.is_null() ? "" : body.dump()));
    if (answer.status / 100 == 2) return answer;
    std::string message = answer.body;
    auto json = nlohmann::json::parse(answer.body, nullptr, false);
    if (json.is_object() && json.contains("fault_message") && json["fault_message"].is_string())
        message = json["fault_message"].get<std::string>();
    return make_error("{} {}: {} {}", method, path, answer.status, message);
}

} // namespace vessel
