// HttpParser*: the request corpus fed whole, split at every offset, byte by byte and in
// random pieces must give the exact expected result; plus the calling contract, limits,
// streaming and the error table.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "unit/http/parser_cases.hpp"
#include "unit/http/parser_driver.hpp"

namespace weft::http::testing {
namespace {

using namespace std::string_literals;

// Random cut points (ascending) for one input, reproducible.
std::vector<std::size_t> random_cuts(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::size_t> cuts;
  std::size_t at = 0;
  while (at < size) {
    at += 1 + rng() % 17;
    cuts.push_back(at);
  }
  return cuts;
}

// Every way of feeding `input` gives `expected`, and no call broke the contract.
void expect_split_invariant(const std::string& input, const Transcript& expected,
                            const ParserLimits& limits) {
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    const Driver d = run_in_pieces(input, {cut}, limits);
    ASSERT_EQ(d.transcript(), expected) << "split at " << cut;
    ASSERT_TRUE(d.violations().empty()) << d.violations().front() << " (split at " << cut << ")";
  }
  const Driver bytewise = run_bytewise(input, limits);
  EXPECT_EQ(bytewise.transcript(), expected) << "byte by byte";
  EXPECT_TRUE(bytewise.violations().empty());
  for (unsigned seed = 1; seed <= 8; ++seed) {
    const Driver d = run_in_pieces(input, random_cuts(input.size(), seed), limits);
    ASSERT_EQ(d.transcript(), expected) << "random pieces, seed " << seed;
  }
}

// ---- the valid corpus ------------------------------------------------------------------

class HttpParserValid : public ::testing::TestWithParam<ValidCase> {};

TEST_P(HttpParserValid, WholeGivesExpectedMessages) {
  const ValidCase& c = GetParam();
  const Driver d = run_whole(c.input);
  EXPECT_EQ(d.transcript().error, ParseErrc::none) << describe(d.transcript().error);
  EXPECT_EQ(d.transcript().messages, c.expected) << d.transcript();
  EXPECT_TRUE(d.violations().empty());
  EXPECT_EQ(d.buffered(), 0u) << "every byte of a valid corpus entry is consumed";
}

TEST_P(HttpParserValid, EverySplitGivesTheSameResult) {
  const ValidCase& c = GetParam();
  expect_split_invariant(c.input, Transcript{c.expected, ParseErrc::none}, {});
}

std::string case_name(const ::testing::TestParamInfo<ValidCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Corpus, HttpParserValid, ::testing::ValuesIn(valid_cases()), case_name);

// ---- the invalid corpus ----------------------------------------------------------------

class HttpParserInvalid : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(HttpParserInvalid, WholeGivesExpectedError) {
  const InvalidCase& c = GetParam();
  const Driver d = run_whole(c.input, c.limits);
  const Transcript& t = d.transcript();
  EXPECT_EQ(t.error, c.error) << "got \"" << describe(t.error) << "\"\n" << t;
  EXPECT_EQ(http_status(t.error), c.status);
  EXPECT_TRUE(must_close(t.error));
  std::size_t completed = 0;
  for (const Message& m : t.messages) completed += m.complete ? 1 : 0;
  EXPECT_EQ(completed, c.complete_before);
  EXPECT_TRUE(d.violations().empty());
}

TEST_P(HttpParserInvalid, EverySplitGivesTheSameError) {
  const InvalidCase& c = GetParam();
  const Driver whole = run_whole(c.input, c.limits);
  ASSERT_EQ(whole.transcript().error, c.error);
  expect_split_invariant(c.input, whole.transcript(), c.limits);
}

std::string invalid_name(const ::testing::TestParamInfo<InvalidCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Corpus, HttpParserInvalid, ::testing::ValuesIn(invalid_cases()),
                         invalid_name);

// ---- calling contract ------------------------------------------------------------------

TEST(HttpParser, HeadInProgressConsumesNothingAndViewsPointIntoTheBuffer) {
  RequestParser p;
  const std::string partial = "GET /x HTTP/1.1\r\nHost: h\r\n";
  ParseResult r = p.parse(partial);
  EXPECT_EQ(r.status, ParseStatus::need_more);
  EXPECT_EQ(r.consumed, 0u);

  const std::string full = partial + "\r\n";  // same bytes at a new address
  r = p.parse(full);
  ASSERT_EQ(r.status, ParseStatus::head_complete);
  EXPECT_EQ(r.consumed, full.size());
  EXPECT_EQ(p.head().target.data(), full.data() + 4);
  EXPECT_EQ(p.head().field("HOST").data(), full.data() + 23);
  EXPECT_EQ(p.head().field("host"), "h");
  EXPECT_TRUE(p.head().has_field("Host"));
  EXPECT_FALSE(p.head().has_field("Cookie"));
  EXPECT_EQ(p.head().field("Cookie"), "");

  r = p.parse(std::string_view(full).substr(r.consumed));
  EXPECT_EQ(r.status, ParseStatus::message_complete);
  EXPECT_EQ(r.consumed, 0u);
}

TEST(HttpParser, ChunkedFramingIsConsumedWithTheData) {
  RequestParser p;
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(p.parse(head).status, ParseStatus::head_complete);

  const std::string body = "4;ext=1\r\nWiki\r\n5\r\npe";
  ParseResult r = p.parse(body);
  ASSERT_EQ(r.status, ParseStatus::body_data);
  EXPECT_EQ(r.body, "Wiki");
  EXPECT_EQ(r.body.data(), body.data() + 9);
  EXPECT_EQ(r.consumed, 13u);

  r = p.parse(std::string_view(body).substr(13));  // "\r\n5\r\npe"
  ASSERT_EQ(r.status, ParseStatus::body_data);
  EXPECT_EQ(r.body, "pe");
  EXPECT_EQ(r.consumed, 7u);

  r = p.parse("dia\r\n0\r\n");  // the trailer section is still open: framing consumed
  ASSERT_EQ(r.status, ParseStatus::body_data);
  EXPECT_EQ(r.body, "dia");
  r = p.parse("\r\n0\r\n");
  EXPECT_EQ(r.status, ParseStatus::need_more);
  EXPECT_EQ(r.consumed, 5u);
  r = p.parse("\r\n");
  EXPECT_EQ(r.status, ParseStatus::message_complete);
  EXPECT_EQ(r.consumed, 2u);
  EXPECT_TRUE(p.trailers().empty());
}

TEST(HttpParser, ErrorIsStickyUntilReset) {
  RequestParser p;
  ParseResult r = p.parse("GET / HTTP/9.9\r\n");
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error, ParseErrc::unsupported_version);
  EXPECT_EQ(p.error(), ParseErrc::unsupported_version);
  r = p.parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error, ParseErrc::unsupported_version);

  p.reset();
  EXPECT_EQ(p.error(), ParseErrc::none);
  r = p.parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::head_complete);
}

TEST(HttpParser, HeadStaysValidAfterMessageComplete) {
  RequestParser p;
  const std::string bytes = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n";
  const ParseResult r = p.parse(bytes);
  ASSERT_EQ(r.status, ParseStatus::head_complete);
  ASSERT_EQ(p.parse(std::string_view(bytes).substr(r.consumed)).status,
            ParseStatus::message_complete);
  EXPECT_EQ(p.parse(std::string_view(bytes).substr(r.consumed)).status, ParseStatus::need_more);
  EXPECT_EQ(p.head().target, "/a");  // the next head has not completed yet
  EXPECT_EQ(p.head().fields.size(), 1u);
}

TEST(HttpParser, ErrorCodeAndMessages) {
  const std::error_code ec = ParseErrc::conflicting_content_length;
  EXPECT_EQ(ec.category().name(), std::string("weft.http.parse"));
  EXPECT_EQ(ec.message(), "duplicate Content-Length with different values");
  EXPECT_EQ(describe(ParseErrc::bare_cr), "bare CR in request head");
  EXPECT_EQ(http_status(ParseErrc::none), 0);
  EXPECT_EQ(http_status(ParseErrc::request_line_too_long), 414);
  EXPECT_EQ(http_status(ParseErrc::too_many_fields), 431);
  EXPECT_EQ(http_status(ParseErrc::unsupported_transfer_coding), 501);
  EXPECT_EQ(http_status(ParseErrc::unsupported_version), 505);
  EXPECT_EQ(http_status(ParseErrc::body_too_large), 413);
  EXPECT_FALSE(must_close(ParseErrc::none));
}

// ---- limits and streaming --------------------------------------------------------------

TEST(HttpParser, SetMaxBodyBeforeTheBodyLiftsTheLimitForThisRequestOnly) {
  ParserLimits limits;
  limits.max_body = 4;
  RequestParser p(limits);
  const std::string req = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789";
  ParseResult r = p.parse(req);
  ASSERT_EQ(r.status, ParseStatus::head_complete);
  p.set_max_body(ParserLimits::unlimited);
  r = p.parse(std::string_view(req).substr(r.consumed));
  ASSERT_EQ(r.status, ParseStatus::body_data);
  EXPECT_EQ(r.body, "0123456789");
  EXPECT_EQ(p.parse("").status, ParseStatus::message_complete);

  r = p.parse(req);  // the next request has the default limit again
  ASSERT_EQ(r.status, ParseStatus::head_complete);
  r = p.parse(std::string_view(req).substr(r.consumed));
  EXPECT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error, ParseErrc::body_too_large);
}

TEST(HttpParser, LoweringTheLimitMidChunkedBodyRejectsTheNextChunk) {
  RequestParser p;
  std::string bytes = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  ParseResult r = p.parse(bytes);
  ASSERT_EQ(r.status, ParseStatus::head_complete);
  r = p.parse("8\r\n12345678\r\n");
  ASSERT_EQ(r.status, ParseStatus::body_data);
  p.set_max_body(4);  // below what already arrived: must not wrap around
  r = p.parse("\r\n1\r\nx\r\n");
  EXPECT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error, ParseErrc::body_too_large);
}

TEST(HttpParser, LargeChunkedBodyStreamsInPieces) {
  ParserLimits limits;
  limits.max_body = ParserLimits::unlimited;
  Driver d(limits);
  d.feed("PUT /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string chunk(1 << 16, 'z');
  std::size_t expected = 0;
  for (int i = 0; i < 40; ++i) {  // 2.5 MiB, more than the default limit
    d.feed("10000\r\n");
    for (std::size_t at = 0; at < chunk.size(); at += 4096) d.feed(chunk.substr(at, 4096));
    d.feed("\r\n");
    expected += chunk.size();
  }
  d.feed("0\r\nX-Sum: 42\r\n\r\n");
  ASSERT_EQ(d.transcript().messages.size(), 1u);
  const Message& m = d.transcript().messages[0];
  EXPECT_TRUE(m.complete);
  EXPECT_EQ(m.body.size(), expected);
  EXPECT_EQ(m.trailers, (Fields{{"X-Sum", "42"}}));
  EXPECT_TRUE(d.violations().empty());
}

TEST(HttpParser, ContentLengthAtTheLimitIsAccepted) {
  ParserLimits limits;
  limits.max_body = 8;
  const Driver ok =
      run_whole("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n12345678", limits);
  EXPECT_EQ(ok.transcript().error, ParseErrc::none);
  const Driver over = run_whole("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n", limits);
  EXPECT_EQ(over.transcript().error, ParseErrc::body_too_large);
}

TEST(HttpParser, ExactlyMaxFieldsIsAccepted) {
  std::string req = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 1; i < 100; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
  req += "\r\n";
  const Driver d = run_whole(req);
  ASSERT_EQ(d.transcript().error, ParseErrc::none);
  EXPECT_EQ(d.transcript().messages.at(0).fields.size(), 100u);
}

TEST(HttpParser, HeadAtTheSizeLimitsIsAccepted) {
  // request line of exactly 8 KiB including CRLF; header block of exactly 16 KiB.
  const std::string target = "/" + std::string(8192 - 16, 'a');
  const std::string line = "GET " + target + " HTTP/1.1\r\n";
  ASSERT_EQ(line.size(), 8192u);
  const std::string host = "Host: h\r\n";
  const std::string big = "X: " + std::string(16384 - host.size() - 2 - 5, 'v') + "\r\n";
  ASSERT_EQ(host.size() + big.size() + 2, 16384u);
  const Driver d = run_whole(line + host + big + "\r\n");
  EXPECT_EQ(d.transcript().error, ParseErrc::none);
  const Driver longer = run_whole("GET " + target + "a HTTP/1.1\r\n" + host + "\r\n");
  EXPECT_EQ(longer.transcript().error, ParseErrc::request_line_too_long);
  const Driver bigger = run_whole(line + host + "X: v" + big + "\r\n");
  EXPECT_EQ(bigger.transcript().error, ParseErrc::header_block_too_large);
}

TEST(HttpParser, EndlessRequestLineIsRejectedBeforeItEnds) {
  Driver d;
  d.feed("GET /");
  for (int i = 0; i < 20 && d.transcript().error == ParseErrc::none; ++i) {
    d.feed(std::string(1024, 'a'));
  }
  EXPECT_EQ(d.transcript().error, ParseErrc::request_line_too_long);
}

TEST(HttpParser, EndlessHeaderIsRejectedBeforeItEnds) {
  Driver d;
  d.feed("GET / HTTP/1.1\r\nX: ");
  for (int i = 0; i < 40 && d.transcript().error == ParseErrc::none; ++i) {
    d.feed(std::string(1024, 'a'));
  }
  EXPECT_EQ(d.transcript().error, ParseErrc::header_block_too_large);
}

TEST(HttpParser, ManyPipelinedRequestsInOneBuffer) {
  std::string batch;
  for (int i = 0; i < 200; ++i) {
    batch += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n";
  }
  const Driver d = run_whole(batch);
  ASSERT_EQ(d.transcript().messages.size(), 200u);
  EXPECT_EQ(d.transcript().messages[199].target, "/199");
  EXPECT_TRUE(d.transcript().messages[199].complete);
}

}  // namespace
}  // namespace weft::http::testing
