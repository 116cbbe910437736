// AML builder: byte encodings checked against ACPI 6.5 chapter 20 and iasl's output.
#include "arch/x86/aml_builder.hpp"

#include <gtest/gtest.h>

using namespace vessel::x86;
using aml::Bytes;

TEST(AmlBuilder, PackageLengthUsesOneToFourBytes) {
    EXPECT_EQ(aml::package_length(0), (Bytes{0x01}));
    EXPECT_EQ(aml::package_length(0x3e), (Bytes{0x3f}));
    // 0x3f body bytes + 2 length bytes = 0x41: lead byte 0x41 & 0xf | 1 << 6, then 0x41 >> 4.
    EXPECT_EQ(aml::package_length(0x3f), (Bytes{0x41, 0x04}));
    EXPECT_EQ(aml::package_length(0x1000), (Bytes{0x83, 0x00, 0x01}));
    EXPECT_EQ(aml::package_length(0x100000), (Bytes{0xc4, 0x00, 0x00, 0x01}));
}

TEST(AmlBuilder, IntegersUseTheShortestForm) {
    EXPECT_EQ(aml::integer(0), (Bytes{0x00}));
    EXPECT_EQ(aml::integer(1), (Bytes{0x01}));
    EXPECT_EQ(aml::integer(5), (Bytes{0x0a, 0x05}));
    EXPECT_EQ(aml::integer(0x1234), (Bytes{0x0b, 0x34, 0x12}));
    EXPECT_EQ(aml::integer(0xc0000000), (Bytes{0x0c, 0x00, 0x00, 0x00, 0xc0}));
    EXPECT_EQ(aml::integer(0x100000000), (Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
    EXPECT_EQ(aml::dword(0xffff), (Bytes{0x0c, 0xff, 0xff, 0x00, 0x00}));
}

TEST(AmlBuilder, NamesArePaddedAndPrefixed) {
    EXPECT_EQ(aml::name_string("_S5"), (Bytes{'_', 'S', '5', '_'}));
    EXPECT_EQ(aml::name_string("\\_SB"), (Bytes{'\\', '_', 'S', 'B', '_'}));
    EXPECT_EQ(aml::name_string("\\_SB.PCI0"),
              (Bytes{'\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}));
    EXPECT_EQ(aml::name_string("A.B.C"),
              (Bytes{0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'}));
}

TEST(AmlBuilder, EisaIdMatchesIasl) {
    // iasl: EisaId ("PNP0A03") = 0x030AD041.
    EXPECT_EQ(aml::eisa_id("PNP0A03"), (Bytes{0x0c, 0x41, 0xd0, 0x0a, 0x03}));
    EXPECT_EQ(aml::eisa_id("PNP0A08"), (Bytes{0x0c, 0x41, 0xd0, 0x0a, 0x08}));
}

TEST(AmlBuilder, NamePackageAndStringTerms) {
    // Name (_S5, Package (4) { 5, 5, 0, 0 }) as the old hand-assembled DSDT had it.
    EXPECT_EQ(aml::name("_S5", aml::package({aml::integer(5), aml::integer(5), aml::integer(0),
                                             aml::integer(0)})),
              (Bytes{0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 5, 0x0a, 5, 0, 0}));
    EXPECT_EQ(aml::string("ab"), (Bytes{0x0d, 'a', 'b', 0}));
    EXPECT_EQ(aml::return_value(aml::integer(0x0f)), (Bytes{0xa4, 0x0a, 0x0f}));
}

TEST(AmlBuilder, DeviceScopeAndMethodWrapTheirTerms) {
    const Bytes device = aml::device("PCI0", {aml::name("_UID", aml::integer(0))});
    EXPECT_EQ(device, (Bytes{0x5b, 0x82, 0x0b, 'P', 'C', 'I', '0', 0x08, '_', 'U', 'I', 'D', 0}));
    const Bytes scope = aml::scope("\\_SB", {});
    EXPECT_EQ(scope, (Bytes{0x10, 0x06, '\\', '_', 'S', 'B', '_'}));
    const Bytes method = aml::method("_STA", 0, {aml::return_value(aml::integer(0x0f))});
    EXPECT_EQ(method, (Bytes{0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f}));
}

TEST(AmlBuilder, ResourceTemplateDescriptors) {
    const Bytes resources = aml::ResourceTemplate()
                                .io(0xcf8, 0xcf8, 1, 8)
                                .word_bus_number(0, 0xff)
                                .dword_memory(0xc0000000, 0xfdffffff)
                                .finish();
    const Bytes expected_body = {
        // IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
        0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
        // WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xff, 0, 0x100)
        0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00,
        0x01,
        // DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite)
        0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff,
        0xfd, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x3e,
        // End tag
        0x79, 0x00};
    // BufferOp, PkgLength, BytePrefix + size, then the descriptors.
    ASSERT_EQ(resources.size(), 4 + expected_body.size());
    EXPECT_EQ(resources[0], 0x11);                     // BufferOp
    EXPECT_EQ(resources[1], expected_body.size() + 3); // counts itself and the size integer
    EXPECT_EQ(resources[2], 0x0a);
    EXPECT_EQ(resources[3], expected_body.size());
    EXPECT_EQ(Bytes(resources.begin() + 4, resources.end()), expected_body);
}
