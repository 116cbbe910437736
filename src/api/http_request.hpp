// HttpRequest: one parsed HTTP/1.x request as the API server hands it to the router.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace vessel::api {

struct HttpRequest {
    std::string method; ///< "GET", "PUT", ... as sent (case-sensitive, RFC 9110 section 9.1)
    std::string path;   ///< the target without its query string, e.g. "/drives/rootfs"
    std::vector<std::pair<std::string, std::string>> headers; ///< names lower-cased
    std::string body;
    bool keep_alive{true}; ///< false after "Connection: close" or on HTTP/1.0 without keep-alive
};

} // namespace vessel::api
