// A client of Vessel's API socket for the CLI commands that drive a running VM.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace vessel {

struct ApiAnswer {
    int status{0};
    std::string body;
};

/// One HTTP/1.1 request on a fresh connection to the API socket (Connection: close).
Result<ApiAnswer> api_request(const std::string& socket_path, std::string_view method,
                              std::string_view path, const std::string& body);

/// The request's answer when it succeeded (2xx), else an error with the API's fault_message.
Result<ApiAnswer> api_call(const std::string& socket_path, std::string_view method,
                           std::string_view path, const nlohmann::json& body);

} // namespace vessel
