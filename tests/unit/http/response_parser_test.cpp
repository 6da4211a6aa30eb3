// ResponseParser.*: the response mode of weft's parser. Every case is parsed whole, split
// once at every byte, and byte by byte; all must give the same transcript, and the
// driver's contract checks must stay clean.
#include <gtest/gtest.h>

#include <string>

#include "unit/http/response_driver.hpp"

namespace weft::http::testing {
namespace {

// Parses `wire` every way and checks that all agree; returns the whole-input transcript.
RTranscript parse_all_ways(const std::string& wire, std::vector<std::string> methods = {},
                           ParserLimits limits = {}, bool close_at_end = true) {
  const ResponseDriver whole = run_response(wire, {}, close_at_end, limits, methods);
  EXPECT_TRUE(whole.violations().empty()) << whole.violations().front();
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    const ResponseDriver split = run_response(wire, {cut}, close_at_end, limits, methods);
    EXPECT_EQ(split.transcript(), whole.transcript()) << "split at " << cut;
    EXPECT_TRUE(split.violations().empty());
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < wire.size(); ++i) every.push_back(i);
  const ResponseDriver bytewise = run_response(wire, every, close_at_end, limits, methods);
  EXPECT_EQ(bytewise.transcript(), whole.transcript()) << "byte by byte";
  EXPECT_TRUE(bytewise.violations().empty());
  return whole.transcript();
}

TEST(ResponseParser, ContentLength) {
  const RTranscript t =
      parse_all_ways("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello");
  ASSERT_EQ(t.error, ParseErrc::none);
  ASSERT_EQ(t.messages.size(), 1u);
  const RMessage& m = t.messages[0];
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.reason, "OK");
  EXPECT_EQ(m.body, "hello");
  EXPECT_EQ(m.framing, ResponseFraming::content_length);
  EXPECT_TRUE(m.keep_alive);
  EXPECT_TRUE(m.complete);
  EXPECT_EQ(m.fields[1], (std::pair<std::string, std::string>("X-A", "b")));
}

TEST(ResponseParser, ChunkedWithExtensionsAndTrailers) {
  const RTranscript t = parse_all_ways(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;a=b\r\nhello\r\n1;q=\"x y\"\r\n!\r\n0\r\nX-Sum: 42\r\nX-T: u\r\n\r\n");
  ASSERT_EQ(t.error, ParseErrc::none);
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].body, "hello!");
  EXPECT_EQ(t.messages[0].trailers, (RFields{{"X-Sum", "42"}, {"X-T", "u"}}));
  EXPECT_TRUE(t.messages[0].complete);
}

TEST(ResponseParser, CloseDelimitedBodyEndsAtClose) {
  const RTranscript t = parse_all_ways("HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of it\r\nand more");
  ASSERT_EQ(t.error, ParseErrc::none);
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].framing, ResponseFraming::until_close);
  EXPECT_FALSE(t.messages[0].keep_alive);
  EXPECT_EQ(t.messages[0].body, "all of it\r\nand more");
  EXPECT_TRUE(t.messages[0].complete);
}

TEST(ResponseParser, TransferEncodingOtherThanChunkedReadsUntilClose) {
  const RTranscript t = parse_all_ways("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz");
  ASSERT_EQ(t.error, ParseErrc::none);
  EXPECT_EQ(t.messages.at(0).framing, ResponseFraming::until_close);
  EXPECT_EQ(t.messages.at(0).body, "zzz");
}

TEST(ResponseParser, InterimResponsesAreSkipped) {
  const RTranscript t = parse_all_ways(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(t.error, ParseErrc::none);
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].status, 201);
  EXPECT_EQ(t.messages[0].informational, 2u);
  EXPECT_EQ(t.messages[0].body, "ok");
}

TEST(ResponseParser, NoBodyForHead204And304WhateverTheFieldsSay) {
  const RTranscript t = parse_all_ways(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
      {"HEAD", "GET", "GET", "GET"});
  ASSERT_EQ(t.error, ParseErrc::none);
  ASSERT_EQ(t.messages.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t.messages[i].body, "");
    EXPECT_EQ(t.messages[i].framing, ResponseFraming::none);
    EXPECT_TRUE(t.messages[i].complete);
  }
  EXPECT_EQ(t.messages[3].body, "x");
}

TEST(ResponseParser, KeepAliveFromVersionAndConnection) {
  const RTranscript t = parse_all_ways(
      "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(t.error, ParseErrc::none);
  ASSERT_EQ(t.messages.size(), 3u);
  EXPECT_FALSE(t.messages[0].keep_alive);
  EXPECT_TRUE(t.messages[1].keep_alive);
  EXPECT_FALSE(t.messages[2].keep_alive);
}

TEST(ResponseParser, StatusLineWithoutReasonAndBareLf) {
  const RTranscript t = parse_all_ways("HTTP/1.1 404\nContent-Length: 0\n\nHTTP/1.1 500 \r\n\r\n");
  ASSERT_EQ(t.error, ParseErrc::none);
  ASSERT_EQ(t.messages.size(), 2u);
  EXPECT_EQ(t.messages[0].status, 404);
  EXPECT_EQ(t.messages[0].reason, "");
  EXPECT_EQ(t.messages[1].status, 500);
}

TEST(ResponseParser, CleanCloseBetweenResponsesIsNoError) {
  const RTranscript t = parse_all_ways("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(t.error, ParseErrc::none);
  EXPECT_EQ(t.messages.size(), 1u);
}

struct BadCase {
  const char* name;
  std::string wire;
  ParseErrc error;
};

TEST(ResponseParser, MalformedResponsesAreRefusedTheSameAtEverySplit) {
  const std::vector<BadCase> cases = {
      {"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
       ParseErrc::incomplete_response},
      {"truncated head", "HTTP/1.1 200 OK\r\nContent-Len", ParseErrc::incomplete_response},
      {"truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
       ParseErrc::incomplete_response},
      {"close after 100", "HTTP/1.1 100 Continue\r\n\r\n", ParseErrc::incomplete_response},
      {"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
       ParseErrc::conflicting_content_length},
      {"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
       ParseErrc::bad_content_length},
      {"cl and te",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       ParseErrc::content_length_with_transfer_encoding},
      {"te on 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       ParseErrc::transfer_encoding_on_http10},
      {"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       ParseErrc::bad_chunk_size},
      {"chunk overflow",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
       ParseErrc::chunk_size_overflow},
      {"no crlf after data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY",
       ParseErrc::missing_chunk_crlf},
      {"bare lf in chunk line", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n",
       ParseErrc::bare_lf_in_chunked},
      {"status two digits", "HTTP/1.1 20 OK\r\n\r\n", ParseErrc::bad_status_code},
      {"status 600", "HTTP/1.1 600 What\r\n\r\n", ParseErrc::bad_status_code},
      {"status letters", "HTTP/1.1 2x0 OK\r\n\r\n", ParseErrc::bad_status_code},
      {"http/2", "HTTP/2.0 200 OK\r\n\r\n", ParseErrc::unsupported_version},
      {"not http", "HTTX/1.1 200 OK\r\n\r\n", ParseErrc::bad_version},
      {"no space after code", "HTTP/1.1 200OK\r\n\r\n", ParseErrc::bad_status_line},
      {"control in reason", std::string("HTTP/1.1 200 O\x01K\r\n\r\n"), ParseErrc::bad_status_line},
      {"bare cr", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", ParseErrc::bare_cr},
      {"obs fold", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", ParseErrc::obs_fold},
      {"space before colon", "HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
       ParseErrc::whitespace_before_colon},
      {"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
       ParseErrc::unexpected_switching_protocols},
      {"bad trailer",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
       ParseErrc::missing_colon},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    const RTranscript t = parse_all_ways(c.wire);
    EXPECT_EQ(t.error, c.error) << describe(t.error);
    EXPECT_EQ(http_status(t.error) / 100 == 5 || http_status(t.error) == 400, true);
  }
}

TEST(ResponseParser, LimitsApply) {
  ParserLimits tight;
  tight.max_request_line = 32;
  tight.max_header_block = 64;
  tight.max_header_fields = 2;
  tight.max_body = 4;
  EXPECT_EQ(parse_all_ways("HTTP/1.1 200 " + std::string(40, 'x') + "\r\n\r\n", {}, tight).error,
            ParseErrc::bad_status_line);
  EXPECT_EQ(
      parse_all_ways("HTTP/1.1 200 OK\r\nA: " + std::string(80, 'x') + "\r\n\r\n", {}, tight).error,
      ParseErrc::header_block_too_large);
  EXPECT_EQ(parse_all_ways("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", {}, tight).error,
            ParseErrc::too_many_fields);
  EXPECT_EQ(parse_all_ways("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", {}, tight).error,
            ParseErrc::response_too_large);
  EXPECT_EQ(
      parse_all_ways(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
          {}, tight)
          .error,
      ParseErrc::response_too_large);
  EXPECT_EQ(parse_all_ways("HTTP/1.1 200 OK\r\n\r\nabcde", {}, tight).error,
            ParseErrc::response_too_large);
}

TEST(ResponseParser, TooManyInterimResponses) {
  std::string wire;
  for (int i = 0; i < 40; ++i) wire += "HTTP/1.1 103 Early Hints\r\n\r\n";
  wire += "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(parse_all_ways(wire).error, ParseErrc::too_many_interim_responses);
}

TEST(ResponseParser, SawContinueIsReportedBeforeTheFinalHead) {
  ResponseParser p;
  p.start("POST");
  const std::string wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2";
  const ParseResult r = p.parse(wire);
  EXPECT_EQ(r.status, ParseStatus::need_more);
  EXPECT_EQ(r.consumed, 25u);
  EXPECT_TRUE(p.saw_continue());
  EXPECT_FALSE(p.between_messages());
}

}  // namespace
}  // namespace weft::http::testing
