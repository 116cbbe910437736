// GdbAddress: where the GDB stub listens, from `--gdb tcp:HOST:PORT` or `--gdb unix:PATH`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace vessel::gdb {

struct GdbAddress {
    enum class Kind { Tcp, Unix };
    Kind kind{Kind::Tcp};
    std::string host; ///< Tcp: a numeric IPv4 address or a name (127.0.0.1, localhost)
    std::uint16_t port{0};
    std::string path; ///< Unix: the socket to create (it must not exist)
    std::string to_string() const;
};

/// Parses `tcp:HOST:PORT`, `tcp::PORT` (127.0.0.1) or `unix:PATH`; errors name the text.
Result<GdbAddress> parse_gdb_address(std::string_view text);

} // namespace vessel::gdb
