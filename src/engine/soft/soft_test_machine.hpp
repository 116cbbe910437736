// SoftTestMachine: a small software-engine VM for unit tests (RAM, buses, a recording port device).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "engine/hypervisor.hpp"
#include "engine/soft/soft_hypervisor.hpp"
#include "engine/soft/soft_vcpu.hpp"
#include "platform/pc/pc_soft_platform.hpp" // tests see every layer: interrupts need a real PC

namespace vessel::soft::testing {

/// Records every port write (port offset, value) and answers reads with a fixed value.
struct RecordingPorts final : BusDevice {
    std::string_view name() const override { return "test ports"; }
    void read(std::uint64_t, std::span<std::uint8_t> data) override {
        value_to_bytes(read_value, data);
    }
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
        writes.push_back({offset, bytes_to_value(data)});
    }
    std::uint64_t read_value{0x5a};
    std::vector<std::pair<std::uint64_t, std::uint64_t>> writes;
};

struct IgnoredExits final : ExitSink {
    void request_exit(ExitRequest) override {}
};

/// 4 MiB of RAM, test ports at 0xf0-0xff, the PC interrupt hardware (unless another platform is
/// given), one vCPU starting in flat
/// 32-bit protected mode, run by the translation tier unless the interpreter alone is asked for.
class SoftTestMachine {
  public:
    static constexpr std::uint64_t code_address = 0x1000;
    static constexpr std::uint64_t stack_top = 0x80000;

    explicit SoftTestMachine(SoftTier tier = SoftTier::Translator, std::uint32_t cpus = 1,
                             SoftPlatformFactory platform = pc::PcSoftPlatform::factory())
        : memory(GuestMemory::create_shared(4u << 20).value()) { // as Machine makes it for soft
        EXPECT_TRUE(io_bus.insert(ports, 0xf0, 0x10));
        hypervisor = open_soft_hypervisor(tier, std::move(platform)).value();
        vm = hypervisor->create_vm(VmContext{memory, io_bus, mmio_bus, exits, cpus}).value();
        vcpu = vm->create_vcpu(0).value();
        state.cs = x86::flat_segment(0x08, 0xb, false);
        state.ds = state.es = state.ss = state.fs = state.gs = x86::flat_segment(0x10, 0x3, false);
        state.cr0 = x86::cr0::pe | x86::cr0::et;
        state.rip = code_address;
        state.gpr[x86::rsp] = stack_top;
        state.rflags = x86::rflags::fixed1;
    }

    void load(std::uint64_t address, std::initializer_list<std::uint8_t> bytes) {
        std::vector<std::uint8_t> data(bytes);
        ASSERT_TRUE(memory.write_bytes(address, data));
    }
    void load(std::uint64_t address, const std::vector<std::uint8_t>& bytes) {
        ASSERT_TRUE(memory.write_bytes(address, bytes));
    }

    /// Loads state, runs to the next exit and reads the state back.
    VcpuExit run() {
        EXPECT_TRUE(vcpu->set_state(state));
        VcpuExit exit = vcpu->run();
        state = vcpu->state().value();
        return exit;
    }

    static constexpr std::uint64_t gdt_address = 0x500;
    static constexpr std::uint64_t idt_address = 0x600;

    /// GDT: 0x08 flat 32-bit code, 0x10 flat data, 0x18 64-bit code, 0x20 user 32-bit code (DPL 3),
    /// 0x28 user data (DPL 3).
    void install_gdt() {
        const std::uint64_t descriptors[] = {0,
                                             0x00cf9a000000ffff,
                                             0x00cf92000000ffff,
                                             0x00af9a000000ffff,
                                             0x00cffa000000ffff,
                                             0x00cff2000000ffff};
        for (std::size_t i = 0; i < std::size(descriptors); ++i)
            ASSERT_TRUE(memory.write(gdt_address + 8 * i, descriptors[i]));
        state.gdt = {gdt_address, static_cast<std::uint16_t>(8 * std::size(descriptors) - 1)};
        state.idt = {idt_address, 0};
    }

    /// A 32-bit interrupt gate (or 64-bit with long_mode) to handler through selector.
    void set_idt_gate(unsigned vector, std::uint64_t handler, bool long_mode = false,
                      std::uint16_t selector = 0x08, unsigned ist = 0) {
        const unsigned size = long_mode ? 16 : 8;
        const std::uint64_t low = (handler & 0xffff) | (std::uint64_t{selector} << 16) |
                                  (std::uint64_t{ist} << 32) | (std::uint64_t{0x8e} << 40) |
                                  ((handler >> 16 & 0xffff) << 48);
        ASSERT_TRUE(memory.write(idt_address + size * vector, low));
        if (long_mode) {
            ASSERT_TRUE(memory.write(idt_address + size * vector + 8, handler >> 32));
        }
        state.idt = {idt_address, static_cast<std::uint16_t>(size * 256 - 1)};
    }

    static constexpr std::uint64_t long_mode_tables = 0x20000;

    /// 64-bit mode at CPL 0 with 2 MiB identity pages over the 4 MiB of RAM (selector 0x18 as in
    /// install_gdt) and SSE enabled.
    void enter_long_mode() {
        ASSERT_TRUE(
            memory.write<std::uint64_t>(long_mode_tables, (long_mode_tables + 0x1000) | 0x3));
        ASSERT_TRUE(memory.write<std::uint64_t>(long_mode_tables + 0x1000,
                                                (long_mode_tables + 0x2000) | 0x3));
        for (std::uint64_t i = 0; i < 2; ++i)
            ASSERT_TRUE(
                memory.write<std::uint64_t>(long_mode_tables + 0x2000 + 8 * i, (i << 21) | 0x83));
        state.cs = x86::flat_segment(0x18, 0xb, true);
        state.cr0 |= x86::cr0::pg;
        state.cr3 = long_mode_tables;
        state.cr4 |= x86::cr4::pae | x86::cr4::osfxsr;
        state.efer = x86::efer::lme | x86::efer::lma;
    }

    SoftVcpu& soft_vcpu() { return static_cast<SoftVcpu&>(*vcpu); }
    std::uint64_t reg(int index) const { return state.gpr[index]; }

    GuestMemory memory;
    Bus io_bus{"io"};
    Bus mmio_bus{"mmio"};
    IgnoredExits exits;
    RecordingPorts ports;
    std::unique_ptr<Hypervisor> hypervisor;
    std::unique_ptr<Vm> vm;
    std::unique_ptr<Vcpu> vcpu;
    x86::CpuState state;
};

} // namespace vessel::soft::testing
