// Uart16550: registers, FIFO, interrupts, loopback, driven through the bus interface.
#include "devices/legacy/uart_16550.hpp"

#include <gtest/gtest.h>

#include <string>

#include "devices/legacy/test_support.hpp"

using namespace vessel;
using namespace vessel::testing;

namespace {
struct UartFixture : ::testing::Test {
    RecordingInterruptSink irqs;
    std::string output;
    Uart16550 uart{IrqLine(&irqs, 4), [this](std::span<const std::uint8_t> bytes) {
                       output.append(bytes.begin(), bytes.end());
                   }};
    bool irq() { return irqs.levels[4]; }
};
} // namespace

TEST_F(UartFixture, TransmitsToOutput) {
    for (char c : std::string("hi\n"))
        write8(uart, 0, static_cast<std::uint8_t>(c));
    EXPECT_EQ(output, "hi\n");
    EXPECT_EQ(uart.transmitted_bytes(), 3u);
    EXPECT_EQ(read8(uart, 5) & 0x60, 0x60); // THRE and TEMT: always ready
}

TEST_F(UartFixture, DivisorLatchDoesNotTransmit) {
    write8(uart, 3, 0x80); // DLAB
    write8(uart, 0, 0x01);
    write8(uart, 1, 0x02);
    EXPECT_EQ(read8(uart, 0), 0x01);
    EXPECT_EQ(read8(uart, 1), 0x02);
    write8(uart, 3, 0x03);
    EXPECT_TRUE(output.empty());
    EXPECT_EQ(read8(uart, 3), 0x03);
}

TEST_F(UartFixture, ScratchRegisterHoldsValue) {
    write8(uart, 7, 0x5a);
    EXPECT_EQ(read8(uart, 7), 0x5a);
}

TEST_F(UartFixture, ReceiveRaisesInterruptWhenEnabled) {
    std::uint8_t input[] = {'a', 'b'};
    EXPECT_EQ(uart.enqueue_input(input), 2u);
    EXPECT_FALSE(irq());
    EXPECT_EQ(read8(uart, 5) & 0x01, 0x01);
    write8(uart, 1, 0x01); // ERBFI
    EXPECT_TRUE(irq());
    EXPECT_EQ(read8(uart, 2) & 0x0f, 0x04);
    EXPECT_EQ(read8(uart, 0), 'a');
    EXPECT_TRUE(irq());
    EXPECT_EQ(read8(uart, 0), 'b');
    EXPECT_FALSE(irq());
    EXPECT_EQ(read8(uart, 5) & 0x01, 0);
    EXPECT_EQ(read8(uart, 2) & 0x0f, 0x01);
}

TEST_F(UartFixture, TransmitEmptyInterruptClearsOnIirRead) {
    write8(uart, 1, 0x02); // ETBEI
    EXPECT_TRUE(irq());
    EXPECT_EQ(read8(uart, 2) & 0x0f, 0x02);
    EXPECT_FALSE(irq());
    write8(uart, 0, 'x');
    EXPECT_TRUE(irq());
}

TEST_F(UartFixture, FifoControlShowsInIir) {
    write8(uart, 2, 0x07);
    EXPECT_EQ(read8(uart, 2) & 0xc0, 0xc0);
    write8(uart, 2, 0x00);
    EXPECT_EQ(read8(uart, 2) & 0xc0, 0x00);
}

TEST_F(UartFixture, LoopbackEchoesAndMirrorsModemLines) {
    write8(uart, 4, 0x10 | 0x0f);
    write8(uart, 0, 'z');
    EXPECT_TRUE(output.empty());
    EXPECT_EQ(read8(uart, 0), 'z');
    EXPECT_EQ(read8(uart, 6) & 0xf0, 0xf0);
    write8(uart, 4, 0x10);
    EXPECT_EQ(read8(uart, 6) & 0xf0, 0x00);
}

TEST_F(UartFixture, InputBeyondFifoIsRefused) {
    std::vector<std::uint8_t> input(Uart16550::fifo_size + 10, 'q');
    EXPECT_EQ(uart.enqueue_input(input), Uart16550::fifo_size);
}
