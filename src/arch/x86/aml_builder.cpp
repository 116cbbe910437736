// AML byte builder: encodings of names, integers, packages and resource descriptors.
#include "arch/x86/aml_builder.hpp"

namespace vessel::x86::aml {

namespace {

// Opcodes and prefixes (ACPI 6.5 §20.2).
constexpr std::uint8_t zero_op = 0x00;
constexpr std::uint8_t one_op = 0x01;
constexpr std::uint8_t name_op = 0x08;
constexpr std::uint8_t byte_prefix = 0x0a;
constexpr std::uint8_t word_prefix = 0x0b;
constexpr std::uint8_t dword_prefix = 0x0c;
constexpr std::uint8_t string_prefix = 0x0d;
constexpr std::uint8_t qword_prefix = 0x0e;
constexpr std::uint8_t scope_op = 0x10;
constexpr std::uint8_t buffer_op = 0x11;
constexpr std::uint8_t package_op = 0x12;
constexpr std::uint8_t method_op = 0x14;
constexpr std::uint8_t ext_op_prefix = 0x5b;
constexpr std::uint8_t device_op = 0x82; ///< after ext_op_prefix
constexpr std::uint8_t return_op = 0xa4;
constexpr std::uint8_t root_char = '\\';
constexpr std::uint8_t dual_name_prefix = 0x2e;
constexpr std::uint8_t multi_name_prefix = 0x2f;

// Resource descriptor tags (§6.4).
constexpr std::uint8_t io_port_descriptor = 0x47;  ///< small item, length 7
constexpr std::uint8_t end_tag = 0x79;             ///< small item, length 1
constexpr std::uint8_t dword_address_space = 0x87; ///< large item
constexpr std::uint8_t word_address_space = 0x88;  ///< large item
constexpr std::uint8_t resource_memory = 0;
constexpr std::uint8_t resource_io = 1;
constexpr std::uint8_t resource_bus_number = 2;
constexpr std::uint8_t producer_min_max_fixed = 0x0c; ///< general flags: MinFixed | MaxFixed
constexpr std::uint8_t io_entire_range = 0x03;        ///< §6.4.3.5.2 type-specific flags
constexpr std::uint8_t memory_read_write = 0x01;      ///< §6.4.3.5.2 type-specific flags

void append(Bytes& out, const Bytes& more) {
    // Byte by byte: gcc 12's -Warray-bounds misfires on range insert of tiny vectors.
    out.reserve(out.size() + more.size());
    for (auto byte : more)
        out.push_back(byte);
}
void put_le(Bytes& out, std::uint64_t value, int size) {
    for (int i = 0; i < size; ++i)
        out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

/// opcode(s) + PkgLength + body.
Bytes with_length(std::initializer_list<std::uint8_t> opcode, const Bytes& body) {
    Bytes out(opcode);
    append(out, package_length(body.size()));
    append(out, body);
    return out;
}

Bytes join(const std::vector<Bytes>& terms) {
    Bytes out;
    for (const auto& term : terms)
        append(out, term);
    return out;
}

} // namespace

Bytes package_length(std::size_t body_length) {
    // The encoded length counts the PkgLength bytes themselves (§20.2.4).
    if (body_length + 1 < 0x40) return {static_cast<std::uint8_t>(body_length + 1)};
    // Up to three following bytes; Vessel's tables stay far below the 256 MiB limit.
    for (std::size_t extra = 1; extra <= 3; ++extra) {
        const std::size_t total = body_length + 1 + extra;
        if (extra < 3 && total >= (std::size_t{1} << (4 + 8 * extra))) continue;
        Bytes out{static_cast<std::uint8_t>((extra << 6) | (total & 0x0f))};
        for (std::size_t i = 0; i < extra; ++i)
            out.push_back(static_cast<std::uint8_t>(total >> (4 + 8 * i)));
        return out;
    }
    return {};
}

Bytes name_string(std::string_view path) {
    Bytes out;
    if (!path.empty() && path.front() == '\\') {
        out.push_back(root_char);
        path.remove_prefix(1);
    }
    std::vector<std::string_view> segments;
    while (!path.empty()) {
        const auto dot = path.find('.');
        segments.push_back(path.substr(0, dot));
        path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    }
    if (segments.size() == 2) out.push_back(dual_name_prefix);
    if (segments.size() > 2) {
        out.push_back(multi_name_prefix);
        out.push_back(static_cast<std::uint8_t>(segments.size()));
    }
    if (segments.empty()) out.push_back(0); // NullName
    for (auto segment : segments)
        for (std::size_t i = 0; i < 4; ++i)
            out.push_back(i < segment.size() ? static_cast<std::uint8_t>(segment[i]) : '_');
    return out;
}

Bytes integer(std::uint64_t value) {
    Bytes out;
    if (value == 0) return {zero_op};
    if (value == 1) return {one_op};
    if (value <= 0xff) {
        out.push_back(byte_prefix);
        put_le(out, value, 1);
    } else if (value <= 0xffff) {
        out.push_back(word_prefix);
        put_le(out, value, 2);
    } else if (value <= 0xffff'ffff) {
        out.push_back(dword_prefix);
        put_le(out, value, 4);
    } else {
        out.push_back(qword_prefix);
        put_le(out, value, 8);
    }
    return out;
}

Bytes dword(std::uint32_t value) {
    Bytes out{dword_prefix};
    put_le(out, value, 4);
    return out;
}

Bytes string(std::string_view text) {
    Bytes out{string_prefix};
    for (char c : text)
        out.push_back(static_cast<std::uint8_t>(c));
    out.push_back(0);
    return out;
}

Bytes eisa_id(std::string_view id) {
    // Three letters of 5 bits each (A = 1), then four hex digits, stored big-endian (§19.6.43).
    auto hex = [](char c) -> std::uint32_t {
        return static_cast<std::uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    };
    std::uint32_t value = 0;
    for (int i = 0; i < 3 && i < static_cast<int>(id.size()); ++i)
        value |= static_cast<std::uint32_t>((id[i] - 0x40) & 0x1f) << (26 - 5 * i);
    for (int i = 3; i < 7 && i < static_cast<int>(id.size()); ++i)
        value |= hex(id[i]) << (4 * (6 - i));
    return dword(__builtin_bswap32(value));
}

Bytes name(std::string_view path, const Bytes& object) {
    Bytes out{name_op};
    append(out, name_string(path));
    append(out, object);
    return out;
}

Bytes package(const std::vector<Bytes>& elements) {
    Bytes body{static_cast<std::uint8_t>(elements.size())};
    append(body, join(elements));
    return with_length({package_op}, body);
}

Bytes buffer(const Bytes& contents) {
    Bytes body = integer(contents.size());
    append(body, contents);
    return with_length({buffer_op}, body);
}

Bytes scope(std::string_view path, const std::vector<Bytes>& terms) {
    Bytes body = name_string(path);
    append(body, join(terms));
    return with_length({scope_op}, body);
}

Bytes device(std::string_view path, const std::vector<Bytes>& terms) {
    Bytes body = name_string(path);
    append(body, join(terms));
    return with_length({ext_op_prefix, device_op}, body);
}

Bytes method(std::string_view path, std::uint8_t argument_count, const std::vector<Bytes>& terms) {
    Bytes body = name_string(path);
    body.push_back(static_cast<std::uint8_t>(argument_count & 7)); // NotSerialized, SyncLevel 0
    append(body, join(terms));
    return with_length({method_op}, body);
}

Bytes return_value(const Bytes& object) {
    Bytes out{return_op};
    append(out, object);
    return out;
}

// ---- resource templates ----

ResourceTemplate& ResourceTemplate::io(std::uint16_t minimum, std::uint16_t maximum,
                                       std::uint8_t alignment, std::uint8_t length) {
    m_bytes.push_back(io_port_descriptor);
    m_bytes.push_back(1); // decodes 16 address lines
    put_le(m_bytes, minimum, 2);
    put_le(m_bytes, maximum, 2);
    m_bytes.push_back(alignment);
    m_bytes.push_back(length);
    return *this;
}

void ResourceTemplate::word_address(std::uint8_t type, std::uint8_t type_flags,
                                    std::uint16_t minimum, std::uint16_t maximum) {
    m_bytes.push_back(word_address_space);
    put_le(m_bytes, 13, 2); // bytes after the length field
    m_bytes.push_back(type);
    m_bytes.push_back(producer_min_max_fixed);
    m_bytes.push_back(type_flags);
    put_le(m_bytes, 0, 2); // granularity
    put_le(m_bytes, minimum, 2);
    put_le(m_bytes, maximum, 2);
    put_le(m_bytes, 0, 2); // translation offset
    put_le(m_bytes, std::uint32_t{maximum} - minimum + 1, 2);
}

ResourceTemplate& ResourceTemplate::word_bus_number(std::uint16_t minimum, std::uint16_t maximum) {
    word_address(resource_bus_number, 0, minimum, maximum);
    return *this;
}

ResourceTemplate& ResourceTemplate::word_io(std::uint16_t minimum, std::uint16_t maximum) {
    word_address(resource_io, io_entire_range, minimum, maximum);
    return *this;
}

ResourceTemplate& ResourceTemplate::dword_memory(std::uint32_t minimum, std::uint32_t maximum) {
    m_bytes.push_back(dword_address_space);
    put_le(m_bytes, 23, 2);
    m_bytes.push_back(resource_memory);
    m_bytes.push_back(producer_min_max_fixed);
    m_bytes.push_back(memory_read_write);
    put_le(m_bytes, 0, 4); // granularity
    put_le(m_bytes, minimum, 4);
    put_le(m_bytes, maximum, 4);
    put_le(m_bytes, 0, 4); // translation offset
    put_le(m_bytes, std::uint64_t{maximum} - minimum + 1, 4);
    return *this;
}

Bytes ResourceTemplate::finish() const {
    Bytes contents = m_bytes;
    contents.push_back(end_tag);
    contents.push_back(0); // checksum 0: "treat as correct" (§6.4.2.9)
    return buffer(contents);
}

} // namespace vessel::x86::aml
