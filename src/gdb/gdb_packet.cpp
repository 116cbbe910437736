// GDB remote protocol framing and hex helpers.
#include "gdb/gdb_packet.hpp"

#include <fmt/format.h>

namespace vessel::gdb {

namespace {

constexpr std::uint8_t packet_start = '$';
constexpr std::uint8_t checksum_start = '#';
constexpr std::uint8_t escape = '}';
constexpr std::uint8_t escape_xor = 0x20;
constexpr std::uint8_t interrupt_byte = 0x03;

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace

std::vector<Incoming> PacketReader::feed(std::span<const std::uint8_t> bytes) {
    std::vector<Incoming> out;
    for (const std::uint8_t byte : bytes) {
        switch (m_state) {
        case State::Idle:
            if (byte == packet_start) {
                m_state = State::Payload;
                m_payload.clear();
                m_overlong = false;
                m_sum = 0;
            } else if (byte == interrupt_byte) {
                out.push_back({Incoming::Kind::Interrupt, {}});
            } else if (byte == '+') {
                out.push_back({Incoming::Kind::Ack, {}});
            } else if (byte == '-') {
                out.push_back({Incoming::Kind::Nack, {}});
            } // anything else between packets is noise and skipped
            break;
        case State::Payload:
            if (byte == checksum_start) {
                m_state = State::Checksum1;
            } else if (byte == packet_start) {
                // A new start inside a packet: the old one was cut off; begin again.
                m_payload.clear();
                m_overlong = false;
                m_sum = 0;
            } else {
                m_sum = static_cast<std::uint8_t>(m_sum + byte);
                if (m_payload.size() < max_packet_size)
                    m_payload.push_back(static_cast<char>(byte));
                else
                    m_overlong = true;
            }
            break;
        case State::Checksum1:
            m_checksum_high = hex_digit(static_cast<char>(byte));
            m_state = State::Checksum2;
            break;
        case State::Checksum2: {
            const int low = hex_digit(static_cast<char>(byte));
            m_state = State::Idle;
            if (m_overlong) {
                out.push_back({Incoming::Kind::Overlong, {}});
            } else if (m_checksum_high < 0 || low < 0 || (m_checksum_high << 4 | low) != m_sum) {
                out.push_back({Incoming::Kind::BadChecksum, {}});
            } else {
                out.push_back({Incoming::Kind::Packet, std::move(m_payload)});
            }
            m_payload.clear();
            break;
        }
        }
    }
    return out;
}

std::string frame_packet(std::string_view payload) {
    std::uint8_t sum = 0;
    for (const char c : payload)
        sum = static_cast<std::uint8_t>(sum + static_cast<std::uint8_t>(c));
    return fmt::format("${}#{:02x}", payload, sum);
}

std::string escape_binary(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (const std::uint8_t byte : bytes) {
        if (byte == '$' || byte == '#' || byte == escape || byte == '*') {
            out.push_back(static_cast<char>(escape));
            out.push_back(static_cast<char>(byte ^ escape_xor));
        } else {
            out.push_back(static_cast<char>(byte));
        }
    }
    return out;
}

Result<std::vector<std::uint8_t>> unescape_binary(std::string_view data) {
    std::vector<std::uint8_t> out;
    out.reserve(data.size());
    for (std::size_t i = 0; i < data.size(); ++i) {
        auto byte = static_cast<std::uint8_t>(data[i]);
        if (byte == escape) {
            if (++i == data.size()) return make_error("binary data ends in a lone '}}' escape");
            byte = static_cast<std::uint8_t>(static_cast<std::uint8_t>(data[i]) ^ escape_xor);
        }
        out.push_back(byte);
    }
    return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const std::uint8_t byte : bytes) {
        out.push_back(digits[byte >> 4]);
        out.push_back(digits[byte & 0xf]);
    }
    return out;
}

std::string to_hex(std::string_view text) {
    // Sound: any object may be viewed as bytes (unsigned char aliasing).
    return to_hex(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

Result<std::vector<std::uint8_t>> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) return make_error("hex data '{:.32}' has an odd length", hex);
    std::vector<std::uint8_t> out(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int high = hex_digit(hex[2 * i]), low = hex_digit(hex[2 * i + 1]);
        if (high < 0 || low < 0) return make_error("'{:.32}' is not hex data", hex);
        out[i] = static_cast<std::uint8_t>(high << 4 | low);
    }
    return out;
}

Result<std::uint64_t> parse_hex_number(std::string_view hex) {
    if (hex.empty()) return make_error("a hex number is missing");
    if (hex.size() > 16) return make_error("hex number '{:.32}' is longer than 64 bits", hex);
    std::uint64_t value = 0;
    for (const char c : hex) {
        const int digit = hex_digit(c);
        if (digit < 0) return make_error("'{:.32}' is not a hex number", hex);
        value = value << 4 | static_cast<std::uint64_t>(digit);
    }
    return value;
}

std::string hex_little_endian(std::uint64_t value, unsigned size) {
    std::uint8_t bytes[8];
    for (unsigned i = 0; i < 8; ++i)
        bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
    return to_hex(std::span(bytes, size));
}

} // namespace vessel::gdb
