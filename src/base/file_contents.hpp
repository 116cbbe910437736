// Reading whole input files (kernels, initrds) with errors that name the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace vessel {

/// Checks that path names a regular file this process can open for reading (without reading
/// it), with the same errors as read_file_contents.
Result<void> check_readable_file(const std::string& path);

/// Reads the first count bytes of a regular file (fewer when it is shorter).
Result<std::vector<std::uint8_t>> read_file_head(const std::string& path, std::size_t count);

/// Reads a regular file completely; refuses directories, missing files and files over max_size.
Result<std::vector<std::uint8_t>> read_file_contents(const std::string& path,
                                                     std::size_t max_size = std::size_t{1} << 32);

} // namespace vessel
