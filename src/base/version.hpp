// Vessel's version, shown by `vessel --version` and the API's GET /version.
#pragma once

#include <string_view>

namespace vessel {

inline constexpr std::string_view vessel_version = "0.1.0";

} // namespace vessel
