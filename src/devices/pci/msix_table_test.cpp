// MsixTable: entry registers, vector and function masking, pending bits.
#include "devices/pci/msix_table.hpp"

#include <gtest/gtest.h>

#include "devices/pci/pci_test_support.hpp"

using namespace vessel;
using namespace vessel::testing;

namespace {
void write32(pci::MsixTable& table, std::uint64_t offset, std::uint32_t value) {
    std::uint8_t bytes[4];
    value_to_bytes(value, bytes);
    table.table_write(offset, bytes);
}
std::uint64_t read_pba(const pci::MsixTable& table) {
    std::uint8_t bytes[8] = {};
    table.pba_read(0, bytes);
    return bytes_to_value(bytes);
}
} // namespace

TEST(MsixTable, VectorsStartMaskedAndPendUntilUnmasked) {
    RecordingMsiSink sink;
    pci::MsixTable table(3, &sink);
    EXPECT_EQ(table.table_bytes(), 48u);
    write32(table, 16 + 0, 0xfee01000);
    write32(table, 16 + 8, 0x41);
    table.set_control(pci::msix::control_enable);
    table.signal(1);
    EXPECT_TRUE(sink.messages.empty()); // still masked
    EXPECT_EQ(read_pba(table), 2u);
    write32(table, 16 + 12, 0); // unmask: the pending message goes out
    ASSERT_EQ(sink.messages.size(), 1u);
    EXPECT_EQ(sink.messages[0], std::make_pair(std::uint64_t{0xfee01000}, std::uint32_t{0x41}));
    EXPECT_EQ(read_pba(table), 0u);
    table.signal(1);
    EXPECT_EQ(sink.messages.size(), 2u);
}

TEST(MsixTable, FunctionMaskAndDisableHoldMessages) {
    RecordingMsiSink sink;
    pci::MsixTable table(1, &sink);
    write32(table, 0, 0xfee00000);
    write32(table, 12, 0);
    table.signal(0); // MSI-X disabled
    table.set_control(pci::msix::control_enable | pci::msix::control_function_mask);
    table.signal(0);
    EXPECT_TRUE(sink.messages.empty());
    table.set_control(pci::msix::control_enable);
    EXPECT_EQ(sink.messages.size(), 1u); // one pending bit, one message
    table.signal(7);                     // out of range: ignored
    EXPECT_EQ(sink.messages.size(), 1u);
}

TEST(MsixTable, BadAccessesAreHarmless) {
    RecordingMsiSink sink;
    pci::MsixTable table(2, &sink);
    std::uint8_t byte = 0x55;
    table.table_write(0, {&byte, 1}); // 1-byte access: dropped
    std::uint8_t bytes[4] = {1, 1, 1, 1};
    table.table_read(1, bytes); // misaligned
    EXPECT_EQ(bytes_to_value(bytes), 0u);
    table.table_read(0x1000, bytes); // beyond the table
    EXPECT_EQ(bytes_to_value(bytes), 0u);
    table.table_read(12, bytes);
    EXPECT_EQ(bytes_to_value(bytes), 1u); // vector control: masked
    write32(table, 0, 0xfee00003);
    table.table_read(0, bytes);
    EXPECT_EQ(bytes_to_value(bytes), 0xfee00000u); // reserved bits 1:0 read as zero
}

TEST(MsixTable, DeliverableVectorsTriggerTheirRoute) {
    RoutingMsiSink sink;
    pci::MsixTable table(2, &sink);
    write32(table, 16 + 0, 0xfee01000);
    write32(table, 16 + 8, 0x41);
    write32(table, 16 + 12, 0);
    EXPECT_EQ(sink.routes_created, 0u); // MSI-X still disabled: nothing to route
    table.set_control(pci::msix::control_enable);
    EXPECT_EQ(sink.routes_created, 1u); // entry 0 stays masked, entry 1 is routed
    table.signal(1);
    ASSERT_EQ(sink.triggered.size(), 1u);
    EXPECT_EQ(sink.triggered[0], std::make_pair(std::uint64_t{0xfee01000}, std::uint32_t{0x41}));
    EXPECT_TRUE(sink.signalled.empty());

    write32(table, 16 + 12, 1); // mask: the route is withdrawn, the message pends
    table.signal(1);
    EXPECT_EQ(sink.triggered.size(), 1u);
    write32(table, 16 + 8, 0x42); // the guest rewrites the data while masked
    write32(table, 16 + 12, 0);   // unmask: routed anew, then the pending message goes
    ASSERT_EQ(sink.triggered.size(), 2u);
    EXPECT_EQ(sink.triggered[1].second, 0x42u);
    EXPECT_EQ(read_pba(table), 0u);

    table.set_control(pci::msix::control_enable | pci::msix::control_function_mask);
    table.signal(1);
    EXPECT_EQ(sink.triggered.size(), 2u); // function mask holds it
    const unsigned updates = sink.route_updates;
    table.set_control(pci::msix::control_enable);
    EXPECT_EQ(sink.triggered.size(), 3u);
    EXPECT_EQ(sink.route_updates, updates + 1);
    table.set_control(pci::msix::control_enable); // nothing changed: no route update
    EXPECT_EQ(sink.route_updates, updates + 1);
    EXPECT_EQ(sink.routes_created, 1u); // the vector keeps its route object
}

TEST(MsixTable, UnroutableMessagesFallBackToSignalMsi) {
    RoutingMsiSink sink;
    sink.refuse_routes = true;
    pci::MsixTable table(1, &sink);
    write32(table, 0, 0xfee00000);
    write32(table, 8, 0x33);
    write32(table, 12, 0);
    table.set_control(pci::msix::control_enable);
    table.signal(0);
    EXPECT_TRUE(sink.triggered.empty());
    ASSERT_EQ(sink.signalled.size(), 1u);
    EXPECT_EQ(sink.signalled[0].second, 0x33u);
}

TEST(MsixTable, ResetWithdrawsRoutes) {
    RoutingMsiSink sink;
    pci::MsixTable table(1, &sink);
    write32(table, 0, 0xfee00000);
    write32(table, 12, 0);
    table.set_control(pci::msix::control_enable);
    table.reset();
    table.set_control(pci::msix::control_enable); // reset masked the vector again
    table.signal(0);
    EXPECT_TRUE(sink.triggered.empty());
    EXPECT_TRUE(sink.signalled.empty());
    EXPECT_EQ(read_pba(table), 1u);
}
