// The default guest: where `make` puts it and how `vessel run` boots it when no kernel is named.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "vm/machine_config.hpp"

namespace vessel {

/// Kernel command line the default guest boots with, before the console arguments. Besides
/// `quiet`, it turns off what would wake an idle guest for nothing a shell needs (each wake-up
/// costs a software vCPU about a millisecond of host CPU, see bench/density.sh): the soft-lockup
/// watchdog's 4 s hrtimer (`nowatchdog`), pressure stall accounting's averaging work 2 s after
/// any activity (`psi=0`), and kcompactd's proactive compaction check every 500 ms
/// (`vm.compaction_proactiveness=0`; on demand compaction still runs). `nokaslr` keeps the
/// kernel at one address, so its text is the same bytes in every VM and KSM page sharing
/// (`--page-sharing`) keeps one copy for all of them (KASLR relocates it differently in each).
/// `no_timer_check` skips the boot-time check that the PIT ticks through the IOAPIC while the
/// kernel spins 10 ticks on the TSC: a vCPU thread descheduled on a loaded host gets the PIT's
/// missed ticks as one interrupt, and the kernel panicked with "IO-APIC + timer doesn't work!"
/// (seen booting 4 guests at once on a 2-core host at load 9).
inline constexpr const char* default_guest_command_line =
    "quiet nowatchdog psi=0 sysctl.vm.compaction_proactiveness=0 nokaslr no_timer_check";

/// The default guest's tty EOF key (VEOF, ^D): piped input to `--exec` ends with it.
inline constexpr std::uint8_t default_guest_eof_key = 0x04;

/// Fills kernel, initrd and command line of config with the default guest built next to the
/// vessel binary (build/guest/); exec_command, when not empty, is run instead of a shell. The
/// command line names config.console as the kernel's console (the guest's /init follows it).
/// With piped_input the guest's /init readies its console for piped input (`vessel.input=pipe`:
/// no echo, no signal or editing keys, ^D the only special byte) and says so through the
/// guest-signal page before the command runs.
Result<void> use_default_guest(MachineConfig& config, const std::string& exec_command,
                               bool piped_input = false);

/// Standard base64 (RFC 4648) — the command travels on the kernel command line this way, so
/// any quoting survives.
std::string base64_encode(std::string_view bytes);

} // namespace vessel
