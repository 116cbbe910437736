// Migration endpoints: URL parsing, connect with timeouts, listen and accept one source.
#include "vm/migration/migration_url.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace vessel::migration {
namespace {

/// A stuck peer fails the migration after this long instead of hanging it.
constexpr int io_timeout_seconds = 30;

Result<sockaddr_un> unix_address(const MigrationUrl& url) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (url.path.size() >= sizeof(address.sun_path))
        return make_error("migration URL {}: socket path longer than {} bytes", url.text,
                          sizeof(address.sun_path) - 1);
    std::memcpy(address.sun_path, url.path.c_str(), url.path.size() + 1);
    return address;
}

void set_timeouts(int fd) {
    timeval timeout{io_timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
}

void set_no_delay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/// getaddrinfo for a TCP endpoint; `passive` for a listening socket.
Result<addrinfo*> resolve(const MigrationUrl& url, bool passive) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(url.port);
    if (int error = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); error != 0)
        return make_error("migration URL {}: cannot resolve {}: {}", url.text, url.host,
                          ::gai_strerror(error));
    return found;
}

} // namespace

Result<MigrationUrl> parse_migration_url(const std::string& text) {
    MigrationUrl url;
    url.text = text;
    if (text.starts_with("unix:")) {
        url.kind = MigrationUrl::Kind::Unix;
        url.path = text.substr(5);
        if (url.path.empty()) return make_error("migration URL {}: no socket path", text);
        return url;
    }
    if (!text.starts_with("tcp:"))
        return make_error("migration URL '{}': expected unix:PATH or tcp:HOST:PORT", text);
    url.kind = MigrationUrl::Kind::Tcp;
    std::string rest = text.substr(4);
    std::size_t colon;
    if (rest.starts_with("[")) {
        const std::size_t close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            return make_error("migration URL {}: expected tcp:[IPv6]:PORT", text);
        url.host = rest.substr(1, close - 1);
        colon = close + 1;
    } else {
        colon = rest.rfind(':');
        if (colon == std::string::npos) return make_error("migration URL {}: no port", text);
        url.host = rest.substr(0, colon);
    }
    if (url.host.empty()) return make_error("migration URL {}: no host", text);
    const std::string port = rest.substr(colon + 1);
    unsigned value = 0;
    auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || error != std::errc{} || end != port.data() + port.size() || value == 0 ||
        value > 65535)
        return make_error("migration URL {}: port '{}' is not a number from 1 to 65535", text,
                          port);
    url.port = static_cast<std::uint16_t>(value);
    return url;
}

Result<UniqueFd> connect_migration(const MigrationUrl& url) {
    if (url.kind == MigrationUrl::Kind::Unix) {
        const sockaddr_un address = TRY(unix_address(url));
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        // Sound: sockaddr_un is the sockaddr connect expects for AF_UNIX.
        if (!fd.valid() ||
            ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0)
            return make_error("migration URL {}: cannot connect: {}", url.text,
                              std::strerror(errno));
        set_timeouts(fd.get());
        return fd;
    }
    addrinfo* found = TRY(resolve(url, false));
    int last_error = ECONNREFUSED;
    for (addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
        UniqueFd fd(::socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC,
                             candidate->ai_protocol));
        if (!fd.valid()) continue;
        if (::connect(fd.get(), candidate->ai_addr, candidate->ai_addrlen) == 0) {
            ::freeaddrinfo(found);
            set_no_delay(fd.get());
            set_timeouts(fd.get());
            return fd;
        }
        last_error = errno;
    }
    ::freeaddrinfo(found);
    return make_error("migration URL {}: cannot connect: {}", url.text, std::strerror(last_error));
}

Result<UniqueFd> accept_migration(const MigrationUrl& url) {
    UniqueFd listener;
    if (url.kind == MigrationUrl::Kind::Unix) {
        const sockaddr_un address = TRY(unix_address(url));
        struct stat info {};
        if (::lstat(url.path.c_str(), &info) == 0) {
            if (!S_ISSOCK(info.st_mode))
                return make_error("migration URL {}: {} exists and is not a socket", url.text,
                                  url.path);
            ::unlink(url.path.c_str()); // a socket left by an earlier receiver
        }
        listener = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        // Sound: sockaddr_un is the sockaddr bind expects for AF_UNIX.
        if (!listener.valid() || ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address),
                                        sizeof(address)) != 0)
            return make_error("migration URL {}: cannot listen: {}", url.text,
                              std::strerror(errno));
    } else {
        addrinfo* found = TRY(resolve(url, true));
        int last_error = EADDRNOTAVAIL;
        for (addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
            UniqueFd fd(::socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC,
                                 candidate->ai_protocol));
            if (!fd.valid()) continue;
            int one = 1;
            ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (::bind(fd.get(), candidate->ai_addr, candidate->ai_addrlen) == 0) {
                listener = std::move(fd);
                break;
            }
            last_error = errno;
        }
        ::freeaddrinfo(found);
        if (!listener.valid())
            return make_error("migration URL {}: cannot listen: {}", url.text,
                              std::strerror(last_error));
    }
    if (::listen(listener.get(), 1) != 0)
        return make_error("migration URL {}: cannot listen: {}", url.text, std::strerror(errno));
    int connection;
    do {
        connection = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    } while (connection < 0 && errno == EINTR);
    if (url.kind == MigrationUrl::Kind::Unix) ::unlink(url.path.c_str());
    if (connection < 0)
        return make_error("migration URL {}: accept failed: {}", url.text, std::strerror(errno));
    UniqueFd fd(connection);
    if (url.kind == MigrationUrl::Kind::Tcp) set_no_delay(fd.get());
    set_timeouts(fd.get());
    return fd;
}

} // namespace vessel::migration
