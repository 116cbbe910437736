// vessel_difftest: runs generated instruction sequences on the host CPU and in the software
// engine from the same state and reports every difference (issue 3, item 8).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "engine_runner.hpp"
#include "native_runner.hpp"
#include "sequence_generator.hpp"
#include "state_comparison.hpp"

using namespace vessel;
using namespace vessel::difftest;

int main(int argc, char** argv) {
    CLI::App app{"Differential test of Vessel's software CPU against the host CPU"};
    std::uint64_t seed = 1, count = 20000, first = 0;
    unsigned max_length = 8, max_reports = 10;
    bool verbose = false;
    std::string family;
    app.add_option("--seed", seed, "generator seed");
    app.add_option("--count", count, "number of sequences");
    app.add_option("--first", first, "index of the first sequence (to reproduce one)");
    app.add_option("--max-length", max_length, "instructions per sequence, at most")
        ->check(CLI::Range(1u, 64u));
    app.add_option("--max-reports", max_reports, "full divergence reports to print, at most");
    app.add_flag("--verbose", verbose, "print every sequence and both end states");
    app.add_option("--family", family, "draw only this family (a name from 'family picks')");
    CLI11_PARSE(app, argc, argv);

    auto native = NativeRunner::create();
    if (!native) {
        fmt::print(stderr, "vessel_difftest: {}\n", native.error().message);
        return 2;
    }
    auto engine = EngineRunner::create(false);
    auto translator = EngineRunner::create(true);
    if (!engine || !translator) {
        fmt::print(stderr, "vessel_difftest: {}\n",
                   (engine ? translator.error() : engine.error()).message);
        return 2;
    }
    SequenceGenerator generator(max_length);
    if (!family.empty() && !generator.restrict_to(family)) {
        fmt::print(stderr,
                   "vessel_difftest: --family {}: no such family, or the host cannot run it\n",
                   family);
        return 2;
    }
    std::uint64_t divergences = 0, faulted = 0, instructions = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t index = first; index < first + count; ++index) {
        const Sequence sequence = generator.generate(seed, index);
        instructions += sequence.undefined_flags.size();
        const MachineState native_end = native->run(sequence);
        if (native_end.outcome == Outcome::Faulted) ++faulted;
        bool agrees = true;
        // The interpreter and the translator, each against the host CPU.
        for (auto* runner : {&*engine, &*translator}) {
            const char* tier = runner == &*engine ? "interpreter" : "translator";
            const MachineState engine_end = (*runner)->run(sequence);
            const auto differences =
                compare_states(sequence, native_end, engine_end, runner == &*translator);
            if (differences.empty()) continue;
            agrees = false;
            ++divergences;
            if (divergences <= max_reports || verbose)
                fmt::print("[{}] {}\n", tier,
                           describe_divergence(seed, index, max_length, sequence, native_end,
                                               engine_end, differences));
            else
                fmt::print("DIVERGENCE [{}] seed {} sequence {}: {}\n", tier, seed, index,
                           differences[0]);
        }
        if (agrees && verbose) {
            fmt::print("sequence {} agrees:\n{}", index, disassemble(sequence));
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("{} sequences ({} instructions, {} ended in an exception), {} divergences "
               "[seed {}, {:.1f} s]\n",
               count, instructions, faulted, divergences, seed, seconds);
    std::string families;
    for (const auto& [name, picks] : generator.family_counts())
        families += fmt::format("{}{} {}", families.empty() ? "" : ", ", name, picks);
    fmt::print("family picks: {}\n", families);
    std::fflush(stdout);
    return divergences == 0 ? 0 : 1;
}
