// Parsing of `--balloon SPEC` for `vessel run`.
#pragma once

#include <optional>
#include <string_view>

#include "base/result.hpp"
#include "vm/machine_config.hpp"

namespace vessel {

/// SPEC is `none`, or comma-separated items in any order: a target size (`128M`, a bare number
/// is MiB; the memory the balloon takes from the guest, default 0), `deflate-on-oom`,
/// `stats=SECONDS` (statistics every SECONDS, 1-65535), `reporting` / `no-reporting` (free
/// page reporting, on by default). `none` gives no balloon (nullopt). The target must not
/// exceed memory_size.
Result<std::optional<BalloonConfig>> parse_balloon_option(std::string_view text,
                                                          std::uint64_t memory_size);

} // namespace vessel
