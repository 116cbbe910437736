// Parsing of `--vsock [CID:]PATH` for `vessel run`.
#pragma once

#include <string_view>

#include "base/result.hpp"
#include "vm/machine_config.hpp"

namespace vessel {

/// "CID:PATH" (CID decimal, at least 3) or "PATH" (CID 3). PATH is the host Unix socket, which
/// must not exist yet; guest connections to port P go to PATH_P.
Result<VsockConfig> parse_vsock_option(std::string_view text);

} // namespace vessel
