// Migration endpoints: `unix:PATH` and `tcp:HOST:PORT`, connected (source) or listened on
// (destination).
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace vessel::migration {

/// A parsed migration URL.
struct MigrationUrl {
    enum class Kind { Unix, Tcp };
    Kind kind{Kind::Unix};
    std::string path; ///< unix: the socket path
    std::string host; ///< tcp: host name or address
    std::uint16_t port{0};
    std::string text; ///< as given, for messages
};

/// Parses `unix:/path` or `tcp:HOST:PORT` (IPv6 hosts in brackets: tcp:[::1]:6000); the
/// error names the URL and what is wrong with it.
Result<MigrationUrl> parse_migration_url(const std::string& text);

/// The source's side: a connected stream socket (TCP_NODELAY) with send and receive
/// timeouts, so a destination that stops answering cannot hold the source forever.
Result<UniqueFd> connect_migration(const MigrationUrl& url);

/// The destination's side: listens on `url` (a Unix socket file is created, and removed once
/// the source connected) and returns the first connection.
Result<UniqueFd> accept_migration(const MigrationUrl& url);

} // namespace vessel::migration
