// Tests for HttpParser: framing, limits and the malformed input the API must reject.
#include "api/http_parser.hpp"

#include <gtest/gtest.h>

namespace vessel::api {
namespace {

using Kind = HttpParser::Outcome::Kind;

HttpParser::Outcome parse(std::string_view text) {
    HttpParser parser;
    parser.append(text);
    return parser.next();
}

TEST(HttpParserTest, ParsesRequestWithBody) {
    auto outcome = parse("PUT /drives/root?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    ASSERT_EQ(outcome.kind, Kind::Request) << outcome.message;
    EXPECT_EQ(outcome.request.method, "PUT");
    EXPECT_EQ(outcome.request.path, "/drives/root");
    EXPECT_EQ(outcome.request.body, "{}");
    EXPECT_TRUE(outcome.request.keep_alive);
    ASSERT_EQ(outcome.request.headers.size(), 2u);
    EXPECT_EQ(outcome.request.headers[1].first, "content-length");
}

TEST(HttpParserTest, WaitsForTheWholeHeadAndBody) {
    HttpParser parser;
    std::string text = "PUT /vm HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    for (std::size_t index = 0; index + 1 < text.size(); ++index) {
        parser.append(text.substr(index, 1));
        ASSERT_EQ(parser.next().kind, Kind::NeedMore) << "after byte " << index;
    }
    parser.append(text.substr(text.size() - 1));
    auto outcome = parser.next();
    ASSERT_EQ(outcome.kind, Kind::Request);
    EXPECT_EQ(outcome.request.body, "hello");
    EXPECT_EQ(parser.buffered(), 0u);
}

TEST(HttpParserTest, SeparatesPipelinedRequests) {
    HttpParser parser;
    parser.append("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n");
    auto first = parser.next();
    auto second = parser.next();
    ASSERT_EQ(first.kind, Kind::Request);
    ASSERT_EQ(second.kind, Kind::Request);
    EXPECT_EQ(first.request.path, "/a");
    EXPECT_EQ(second.request.path, "/b");
    EXPECT_FALSE(second.request.keep_alive);
    EXPECT_EQ(parser.next().kind, Kind::NeedMore);
}

TEST(HttpParserTest, Http10ClosesByDefault) {
    auto outcome = parse("GET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(outcome.kind, Kind::Request);
    EXPECT_FALSE(outcome.request.keep_alive);
}

TEST(HttpParserTest, RejectsMalformedRequestLines) {
    EXPECT_EQ(parse("GARBAGE\r\n\r\n").status, 400);
    EXPECT_EQ(parse("GET  / HTTP/1.1\r\n\r\n").status, 400);
    EXPECT_EQ(parse("GET http://host/ HTTP/1.1\r\n\r\n").status, 400);
    EXPECT_EQ(parse("G(T / HTTP/1.1\r\n\r\n").status, 400);
    EXPECT_EQ(parse("GET / HTTP/1.1x\r\n\r\n").status, 400);
    EXPECT_EQ(parse("GET / HTTP/2.0\r\n\r\n").status, 505);
}

TEST(HttpParserTest, RejectsMalformedHeaders) {
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n").status, 400);
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nName : v\r\n\r\n").status, 400);
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n").status, 400);
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n").status, 400);
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nExpect: magic\r\n\r\n").status, 417);
}

TEST(HttpParserTest, RejectsBadContentLength) {
    EXPECT_EQ(parse("PUT / HTTP/1.1\r\nContent-Length: abc\r\n\r\n").status, 400);
    EXPECT_EQ(parse("PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").status, 400);
    EXPECT_EQ(parse("PUT / HTTP/1.1\r\nContent-Length: \r\n\r\n").status, 400);
    EXPECT_EQ(parse("PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n").status,
              400);
    EXPECT_EQ(parse("PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").status,
              400);
    EXPECT_EQ(parse("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").status, 501);
}

TEST(HttpParserTest, EnforcesSizeLimitsBeforeBuffering) {
    std::string big_body =
        "PUT / HTTP/1.1\r\nContent-Length: " + std::to_string(HttpParser::max_body_size + 1) +
        "\r\n\r\n";
    auto outcome = parse(big_body);
    EXPECT_EQ(outcome.kind, Kind::Error);
    EXPECT_EQ(outcome.status, 413);

    HttpParser parser;
    parser.append("GET / HTTP/1.1\r\nX: " + std::string(HttpParser::max_head_size, 'a'));
    EXPECT_EQ(parser.next().status, 431); // no terminator yet, but already too long

    std::string many = "GET / HTTP/1.1\r\n";
    for (std::size_t index = 0; index <= HttpParser::max_header_count; ++index)
        many += "X-" + std::to_string(index) + ": v\r\n";
    EXPECT_EQ(parse(many + "\r\n").status, 431);
}

TEST(HttpParserTest, AcceptsBodyAtTheLimit) {
    std::string body(HttpParser::max_body_size, 'x');
    auto outcome = parse("PUT / HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\n\r\n" + body);
    ASSERT_EQ(outcome.kind, Kind::Request);
    EXPECT_EQ(outcome.request.body.size(), HttpParser::max_body_size);
}

TEST(HttpParserTest, AsksForContinueOnceWhileTheBodyIsMissing) {
    HttpParser parser;
    parser.append("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    EXPECT_EQ(parser.next().kind, Kind::NeedMore);
    EXPECT_TRUE(parser.take_continue_request());
    EXPECT_FALSE(parser.take_continue_request());
    parser.append("{}");
    EXPECT_EQ(parser.next().kind, Kind::Request);
    EXPECT_FALSE(parser.take_continue_request());
}

} // namespace
} // namespace vessel::api
