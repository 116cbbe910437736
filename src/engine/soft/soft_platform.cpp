// SoftPlatform implementation (temporary stub so the interpreter links; filled in next).
#include "engine/soft/soft_platform.hpp"

#include <chrono>

namespace vessel::soft {

namespace {

class StubPlatform final : public SoftPlatform {
  public:
    void set_irq_level(std::uint32_t, bool) override {}
    void poll(std::uint32_t) override {}
    bool has_interrupt(std::uint32_t) override { return false; }
    std::uint8_t acknowledge_interrupt(std::uint32_t) override { return 0xff; }
    void wait_for_interrupt(std::uint32_t) override {}
    void wake(std::uint32_t) override {}
    std::uint64_t tsc() const override {
        auto now = std::chrono::steady_clock::now().time_since_epoch();
        return static_cast<std::uint64_t>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()) *
               2;
    }
    std::uint64_t tsc_frequency_hz() const override { return 2'000'000'000; }
    std::uint64_t apic_base(std::uint32_t) const override { return 0xfee00900; }
    bool set_apic_base(std::uint32_t, std::uint64_t) override { return true; }
    std::uint32_t apic_mmio_read(std::uint32_t, std::uint32_t) override { return 0; }
    void apic_mmio_write(std::uint32_t, std::uint32_t, std::uint32_t) override {}
    bool x2apic_msr_read(std::uint32_t, std::uint32_t, std::uint64_t& value) override {
        value = 0;
        return false;
    }
    bool x2apic_msr_write(std::uint32_t, std::uint32_t, std::uint64_t) override { return false; }
    std::uint64_t tsc_deadline(std::uint32_t) const override { return 0; }
    void set_tsc_deadline(std::uint32_t, std::uint64_t) override {}
};

} // namespace

Result<std::unique_ptr<SoftPlatform>> SoftPlatform::create(Bus&, Bus&, std::uint32_t cpu_count) {
    if (cpu_count == 0) return make_error("soft platform: cpu count must be at least 1");
    return std::unique_ptr<SoftPlatform>(new StubPlatform());
}

} // namespace vessel::soft
