// Parsing of `--disk PATH[,readonly][,root]` for `vessel run`.
#pragma once

#include <string_view>

#include "base/result.hpp"
#include "vm/machine_config.hpp"

namespace vessel {

/// "PATH", then options: "readonly" (also "ro"), "root" (the root file system); the path must
/// be non-empty. Unknown options are
/// errors naming them. The file itself is opened (and checked) when the machine is built.
Result<DiskConfig> parse_disk_option(std::string_view text);

} // namespace vessel
