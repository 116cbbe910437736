// libFuzzer target: a hostile API client. The input is the byte stream a client sends on the
// API socket, fed to HttpParser in chunks whose sizes come from the input itself; every request
// found is checked against the parser's limits. Nothing may crash, hang or buffer without bound.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/http_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // The first byte sets the chunk size (1..256): requests split anywhere, as TCP/Unix reads do.
    const std::size_t chunk = static_cast<std::size_t>(data[0]) + 1;
    const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1); // bytes
    vessel::api::HttpParser parser;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
        parser.append(stream.substr(at, chunk));
        for (;;) {
            auto outcome = parser.next();
            using Kind = vessel::api::HttpParser::Outcome::Kind;
            if (outcome.kind == Kind::NeedMore) break;
            if (outcome.kind == Kind::Error) {
                if (outcome.status < 400 || outcome.status > 599 || outcome.message.empty())
                    std::abort(); // an error must be answerable
                return 0;         // the server closes the connection here
            }
            if (outcome.request.body.size() > vessel::api::HttpParser::max_body_size) std::abort();
            parser.take_continue_request();
        }
        // Unparsed bytes stay within one head plus one body.
        if (parser.buffered() >
            vessel::api::HttpParser::max_head_size + vessel::api::HttpParser::max_body_size + chunk)
            std::abort();
    }
    return 0;
}
