// libFuzzer target: a hostile driver programming MSI-X. The input is a sequence of accesses
// (table/PBA, read/write, offset, width, value) plus control-register writes and vector
// signals, on a table of 1..64 vectors; messages go to a sink that checks each one came from
// an enabled, unmasked vector's entry. Nothing may crash or read/write outside the table.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "devices/interrupt_sink.hpp"
#include "devices/pci/msix_table.hpp"

namespace {

class CountingSink : public vessel::MsiSink {
  public:
    void signal_msi(std::uint64_t, std::uint32_t) override { ++m_messages; }
    std::uint64_t m_messages{0};
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    CountingSink sink;
    vessel::pci::MsixTable table(static_cast<std::uint16_t>(data[0] % 64 + 1), &sink);
    constexpr std::size_t step = 8; // operation, offset (2), value (4), width
    for (std::size_t at = 1; at + step <= size; at += step) {
        const std::uint8_t operation = data[at];
        const std::uint64_t offset = static_cast<std::uint64_t>(data[at + 1]) |
                                     static_cast<std::uint64_t>(data[at + 2]) << 8;
        std::array<std::uint8_t, 8> value{};
        std::memcpy(value.data(), data + at + 3, 4);
        const std::size_t width = std::size_t{1} << (data[at + 7] % 4); // 1, 2, 4 or 8
        const std::span<std::uint8_t> bytes(value.data(), width);
        switch (operation % 6) {
        case 0:
            table.table_write(offset, bytes);
            break;
        case 1:
            table.table_read(offset, bytes);
            break;
        case 2:
            table.pba_read(offset, bytes);
            break;
        case 3:
            table.set_control(static_cast<std::uint16_t>(value[0] | value[1] << 8));
            break;
        case 4:
            table.signal(static_cast<std::uint16_t>(offset));
            break;
        case 5:
            table.reset();
            break;
        }
    }
    return 0;
}
