// The frame parser against the RFC 6455 conformance table, each case fed whole, split in
// two at every byte, and one byte at a time; plus the encoder, UTF-8 validator and limits.
#include "conformance_cases.hpp"

#include <weft/ws/parser.hpp>

#include <gtest/gtest.h>

#include <random>

namespace weft::ws {
namespace {

using testing::conformance_cases;
using testing::ConformanceCase;
using testing::raw_frame;

struct Recorder final : ParserEvents {
  std::vector<std::string> events;
  void on_message(Opcode op, std::string_view p, bool) override {
    events.push_back(op == Opcode::text ? "text:" + std::string(p)
                                        : "binary:" + std::to_string(p.size()));
  }
  void on_ping(std::string_view p) override { events.push_back("ping:" + std::string(p)); }
  void on_pong(std::string_view p) override { events.push_back("pong:" + std::string(p)); }
  void on_close(std::uint16_t code, std::string_view reason) override {
    events.push_back("close:" + std::to_string(code) +
                     (reason.empty() ? "" : ":" + std::string(reason)));
  }
};

ParserOptions options_for(const ConformanceCase& c) {
  ParserOptions o;
  if (c.max_message_size) o.max_message_size = c.max_message_size;
  return o;
}

// Feeds `input` in pieces cut at `cuts`; checks events, error and consumption.
void run(const ConformanceCase& c, const std::vector<std::size_t>& cuts, const std::string& how) {
  std::string input = c.input;  // unmasked in place
  Parser parser(options_for(c));
  Recorder rec;
  std::size_t at = 0;
  std::size_t consumed = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : input.size();
    const std::size_t used = parser.parse({input.data() + at, end - at}, rec);
    consumed += used;
    if (used < end - at) break;  // the stream ended (close or error)
    at = end;
  }
  SCOPED_TRACE(c.name + " / " + how);
  EXPECT_EQ(rec.events, c.events);
  EXPECT_EQ(parser.error_code(), c.error) << parser.error_message();
  if (!c.error && !parser.closed()) {
    EXPECT_EQ(consumed, c.input.size());
  }
}

std::vector<std::size_t> split_points(std::size_t n) {
  std::vector<std::size_t> points;
  for (std::size_t i = 0; i <= n; ++i) {
    // Large inputs: every byte around the headers and the end, a stride in between.
    if (n <= 4096 || i < 40 || i + 40 > n || i % 997 == 0) points.push_back(i);
  }
  return points;
}

TEST(WsParser, ConformanceTableWhole) {
  for (const auto& c : conformance_cases()) run(c, {}, "whole");
}

TEST(WsParser, ConformanceTableSplitAtEveryByte) {
  for (const auto& c : conformance_cases()) {
    for (std::size_t cut : split_points(c.input.size()))
      run(c, {cut}, "cut at " + std::to_string(cut));
  }
}

TEST(WsParser, ConformanceTableOneByteAtATime) {
  for (const auto& c : conformance_cases()) {
    if (c.input.size() > 70000) continue;
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < c.input.size(); ++i) cuts.push_back(i);
    run(c, cuts, "bytewise");
  }
}

TEST(WsParser, DefaultLimitIsOneMebibyte) {
  ConformanceCase at{
      "1 MiB", raw_frame(std::string(1 << 20, 'a'), {.opcode = 2}), {"binary:1048576"}};
  run(at, {}, "whole");
  run(at, {3}, "cut in the header");
  run(at, {(1 << 20) / 2}, "cut in the middle");
  ConformanceCase over{
      "1 MiB + 1", raw_frame(std::string((1 << 20) + 1, 'a'), {.opcode = 2}), {}, 1009};
  run(over, {}, "whole");
  run(over, {12}, "header only");
}

// Over the limit is found from the header: no payload byte has to arrive.
TEST(WsParser, TooBigIsFoundBeforeThePayload) {
  std::string frame = raw_frame(std::string(70000, 'a'), {.opcode = 2});
  Parser parser;
  parser.set_max_message_size(65536);
  Recorder rec;
  parser.parse({frame.data(), 14}, rec);
  EXPECT_EQ(parser.error_code(), 1009);
}

// A text frame is rejected at its first bad byte, before the rest of the frame arrives.
TEST(WsParser, InvalidUtf8FailsFast) {
  std::string frame = raw_frame("ab\xff" + std::string(1000, 'c'));
  Parser parser;
  Recorder rec;
  parser.parse({frame.data(), 2 + 2 + 4 + 3}, rec);  // header (16-bit length, key), 3 bytes
  EXPECT_EQ(parser.error_code(), 1007);
  // Across fragments: the first fragment is good, the second's first byte is not.
  std::string two = raw_frame("\xce", {.fin = false}) + raw_frame("A", {.opcode = 0, .fin = false});
  Parser p2;
  p2.parse({two.data(), two.size()}, rec);
  EXPECT_EQ(p2.error_code(), 1007);
}

TEST(WsParser, ClientRoleRejectsMaskedServerFrames) {
  Parser client(ParserOptions{.role = Role::client});
  Recorder rec;
  std::string masked = raw_frame("x");
  client.parse({masked.data(), masked.size()}, rec);
  EXPECT_EQ(client.error_code(), 1002);
  Parser client2(ParserOptions{.role = Role::client});
  std::string plain = raw_frame("x", {.masked = false});
  client2.parse({plain.data(), plain.size()}, rec);
  EXPECT_FALSE(client2.failed());
  EXPECT_EQ(rec.events, std::vector<std::string>{"text:x"});
}

TEST(WsParser, RsvOneOnlyWhenAllowedAndOnFirstFrames) {
  Parser allowed(ParserOptions{.allow_rsv1 = true});
  Recorder rec;
  std::string f = raw_frame("zz", {.opcode = 2, .rsv = 0x40});
  allowed.parse({f.data(), f.size()}, rec);
  EXPECT_FALSE(allowed.failed());
  Parser cont(ParserOptions{.allow_rsv1 = true});
  std::string g =
      raw_frame("a", {.opcode = 2, .fin = false}) + raw_frame("b", {.opcode = 0, .rsv = 0x40});
  cont.parse({g.data(), g.size()}, rec);
  EXPECT_EQ(cont.error_code(), 1002);
}

// Whatever the encoder writes, the parser reads back, for every length form and both roles.
TEST(WsEncoder, RoundTripsRandomFrames) {
  std::mt19937 rng(14);
  for (int i = 0; i < 300; ++i) {
    const std::size_t n =
        std::uniform_int_distribution<std::size_t>(0, i % 3 == 0 ? 70000 : 300)(rng);
    std::string payload(n, '\0');
    for (char& ch : payload) ch = static_cast<char>(rng());
    const bool client = i % 2 == 0;
    std::string wire;
    encode_frame(wire, Opcode::binary, payload, {}, client ? &testing::kMask : nullptr);
    EXPECT_EQ(wire.size(), frame_header_size(n, client) + n);
    Parser parser(ParserOptions{.role = client ? Role::server : Role::client});
    struct Sink final : ParserEvents {
      std::string got;
      void on_message(Opcode, std::string_view p, bool) override { got = p; }
      void on_ping(std::string_view) override {}
      void on_pong(std::string_view) override {}
      void on_close(std::uint16_t, std::string_view) override {}
    } sink;
    EXPECT_EQ(parser.parse({wire.data(), wire.size()}, sink), wire.size());
    EXPECT_EQ(sink.got, payload);
  }
}

TEST(WsEncoder, ClosePayloadCutsAtACharacterBoundary) {
  std::string reason(121, 'a');
  reason += "\xe2\x82\xac";  // 124 bytes: the euro sign does not fit whole
  const std::string p = close_payload(1000, reason);
  EXPECT_LE(p.size(), 125u);
  EXPECT_TRUE(is_valid_utf8(p.substr(2)));
  EXPECT_EQ(p.substr(2), std::string(121, 'a'));
  EXPECT_TRUE(close_payload(close_code::no_status, "x").empty());
}

TEST(WsUtf8, AcceptsTheWholeRangeAndRejectsEdges) {
  EXPECT_TRUE(is_valid_utf8(
      "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));
  EXPECT_TRUE(is_valid_utf8("\xed\x9f\xbf\xee\x80\x80"));  // around the surrogates
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("0123456789abcdef\xc0\xaf"));
  Utf8Validator v;
  EXPECT_TRUE(v.feed("\xf0\x9f"));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed("\x98\x80"));
  EXPECT_TRUE(v.complete());
}

}  // namespace
}  // namespace weft::ws
