// Coverage for libFuzzer from gcc's -fsanitize-coverage=trace-pc: Vessel needs gcc (clang 14
// cannot compile libstdc++ 12's std::expected), and libFuzzer 14 only reads clang's inline
// 8-bit counters. Each instrumented edge calls __sanitizer_cov_trace_pc(); this file (built
// WITHOUT instrumentation) hashes the caller's address into a counter array libFuzzer watches.
#include <cstddef>
#include <cstdint>

extern "C" void __sanitizer_cov_8bit_counters_init(std::uint8_t* start, std::uint8_t* stop);
extern "C" void __sanitizer_cov_pcs_init(const std::uintptr_t* begin, const std::uintptr_t* end);

namespace {
constexpr std::size_t counter_count = 1 << 16;
std::uint8_t counters[counter_count];
std::uintptr_t pc_table[2 * counter_count]; // (pc, flags) pairs; the "pc" is the slot number

struct Registration {
    Registration() {
        for (std::size_t i = 0; i < counter_count; ++i)
            pc_table[2 * i] = i + 1;
        __sanitizer_cov_8bit_counters_init(counters, counters + counter_count);
        __sanitizer_cov_pcs_init(pc_table, pc_table + 2 * counter_count);
    }
} registration;
} // namespace

extern "C" void __sanitizer_cov_trace_pc() {
    const auto pc = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
    const std::size_t slot = ((pc >> 1) ^ (pc >> 17)) & (counter_count - 1);
    std::uint8_t& counter = counters[slot];
    counter = static_cast<std::uint8_t>(counter + 1 == 0 ? 255 : counter + 1);
}
