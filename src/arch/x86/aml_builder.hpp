// AML byte builder: the few ACPI Machine Language terms Vessel's DSDT needs (ACPI 6.5 ch. 20).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace vessel::x86::aml {

using Bytes = std::vector<std::uint8_t>;

/// A NameString (§20.2.2): "\\_SB.PCI0", "_HID" or "PCI0"; segments shorter than four
/// characters are padded with '_'.
Bytes name_string(std::string_view path);
/// An integer in the shortest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix).
Bytes integer(std::uint64_t value);
/// An integer always in DWordPrefix form (as _PRT addresses are usually written).
Bytes dword(std::uint32_t value);
/// A null-terminated String (StringPrefix).
Bytes string(std::string_view text);
/// EISAID("PNP0A03"): the 32-bit compressed ID as a DWord integer.
Bytes eisa_id(std::string_view id);

/// Name (path, object).
Bytes name(std::string_view path, const Bytes& object);
/// Package () { elements } (at most 255 elements).
Bytes package(const std::vector<Bytes>& elements);
/// Buffer () { contents }.
Bytes buffer(const Bytes& contents);
/// Scope (path) { terms }.
Bytes scope(std::string_view path, const std::vector<Bytes>& terms);
/// Device (path) { terms }.
Bytes device(std::string_view path, const std::vector<Bytes>& terms);
/// Method (path, argument_count, NotSerialized) { terms }.
Bytes method(std::string_view path, std::uint8_t argument_count, const std::vector<Bytes>& terms);
/// Return (object).
Bytes return_value(const Bytes& object);

/// The PkgLength encoding (§20.2.4) of a package whose body is body_length bytes.
Bytes package_length(std::size_t body_length);

/// A ResourceTemplate (§6.4): descriptors appended in order, then finish() adds the End Tag
/// and wraps it in a Buffer.
class ResourceTemplate {
  public:
    /// IO (Decode16, minimum, maximum, alignment, length) (§6.4.2.5).
    ResourceTemplate& io(std::uint16_t minimum, std::uint16_t maximum, std::uint8_t alignment,
                         std::uint8_t length);
    /// WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...) (§6.4.3.5.3).
    ResourceTemplate& word_bus_number(std::uint16_t minimum, std::uint16_t maximum);
    /// WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...).
    ResourceTemplate& word_io(std::uint16_t minimum, std::uint16_t maximum);
    /// DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite).
    ResourceTemplate& dword_memory(std::uint32_t minimum, std::uint32_t maximum);
    Bytes finish() const;

  private:
    void word_address(std::uint8_t type, std::uint8_t type_flags, std::uint16_t minimum,
                      std::uint16_t maximum);
    Bytes m_bytes;
};

} // namespace vessel::x86::aml
