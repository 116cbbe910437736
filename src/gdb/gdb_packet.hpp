// GDB remote serial protocol framing: `$payload#cs` packets with their modulo-256 checksum,
// '+'/'-' acknowledgements, the 0x03 interrupt byte, `}` escapes and hex encoding (GDB manual,
// Appendix E.1 "Overview").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace vessel::gdb {

/// Something the debugger sent, as PacketReader finds it in the byte stream.
struct Incoming {
    enum class Kind {
        Packet,      ///< a packet whose checksum matched (payload holds it, escapes kept)
        BadChecksum, ///< a packet whose checksum did not match: answer '-'
        Overlong,    ///< a packet longer than max_packet_size: dropped, answer '-'
        Interrupt,   ///< 0x03 outside a packet (Ctrl-C)
        Ack,         ///< '+'
        Nack,        ///< '-': resend the last packet
    };
    Kind kind;
    std::string payload;
};

/// Splits a byte stream from the debugger into packets; feed it whatever read() returns.
class PacketReader {
  public:
    /// The largest payload accepted (what qSupported announces as PacketSize).
    static constexpr std::size_t max_packet_size = 16384;

    /// Consumes `bytes`; returns everything complete in them (a packet may span calls).
    std::vector<Incoming> feed(std::span<const std::uint8_t> bytes);

  private:
    enum class State { Idle, Payload, Checksum1, Checksum2 };
    State m_state{State::Idle};
    std::string m_payload;
    bool m_overlong{false};
    std::uint8_t m_sum{0};
    int m_checksum_high{0};
};

/// `$payload#cs` with the checksum of payload (which must already be escaped where needed).
std::string frame_packet(std::string_view payload);
/// Escapes `$`, `#`, `}` and `*` for a binary reply (E.1: `}` then the byte xor 0x20).
std::string escape_binary(std::span<const std::uint8_t> bytes);
/// Undoes escape_binary (the X packet's data); fails on a trailing lone `}`.
Result<std::vector<std::uint8_t>> unescape_binary(std::string_view data);

/// Lower-case hex of `bytes`, two digits each.
std::string to_hex(std::span<const std::uint8_t> bytes);
std::string to_hex(std::string_view text);
/// Bytes from hex text; fails on an odd length or a non-hex digit.
Result<std::vector<std::uint8_t>> from_hex(std::string_view hex);
/// A hex number (GDB sends addresses and lengths so); fails on empty, non-hex or over 64 bits.
Result<std::uint64_t> parse_hex_number(std::string_view hex);
/// `value` as `size` little-endian bytes in hex (how GDB wants register contents).
std::string hex_little_endian(std::uint64_t value, unsigned size);

} // namespace vessel::gdb
