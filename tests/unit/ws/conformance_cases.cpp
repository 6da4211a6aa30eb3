#include "conformance_cases.hpp"

#include <weft/ws/frame.hpp>

namespace weft::ws::testing {

namespace {

using Cases = std::vector<ConformanceCase>;

std::string bytes(std::size_t n, char c = 'x') { return std::string(n, c); }
std::string text(std::string_view s, bool fin = true) { return raw_frame(s, {.fin = fin}); }
std::string cont(std::string_view s, bool fin = true) {
  return raw_frame(s, {.opcode = 0x0, .fin = fin});
}
std::string ping(std::string_view s) { return raw_frame(s, {.opcode = 0x9}); }

void framing(Cases& c) {
  c.push_back({"text 5 bytes", text("Hello"), {"text:Hello"}});
  c.push_back({"two messages in one read", text("a") + text("b"), {"text:a", "text:b"}});
  c.push_back({"empty text", text(""), {"text:"}});
  c.push_back({"empty binary", raw_frame("", {.opcode = 2}), {"binary:0"}});
  for (std::size_t n : {125u, 126u, 127u, 65535u, 65536u}) {
    c.push_back({"binary " + std::to_string(n),
                 raw_frame(bytes(n), {.opcode = 2}),
                 {"binary:" + std::to_string(n)}});
  }
  c.push_back(
      {"length 5 in the 16-bit form", raw_frame("abcde", {.length_form = 126}), {"text:abcde"}});
  c.push_back(
      {"length 5 in the 64-bit form", raw_frame("abcde", {.length_form = 127}), {"text:abcde"}});
  c.push_back({"64-bit length with top bit",
               raw_frame("abc", {.length_form = 127, .top_bit = true}),
               {},
               1002});
  c.push_back({"unmasked client frame", raw_frame("Hello", {.masked = false}), {}, 1002});
  c.push_back({"unmasked after a good one",
               text("a") + raw_frame("b", {.masked = false}),
               {"text:a"},
               1002});
}

void control(Cases& c) {
  c.push_back({"empty ping", ping(""), {"ping:"}});
  c.push_back({"ping 125 bytes", ping(bytes(125, 'p')), {"ping:" + bytes(125, 'p')}});
  c.push_back({"ping 126 bytes", ping(bytes(126, 'p')), {}, 1002});
  c.push_back({"pong", raw_frame("x", {.opcode = 0xA}), {"pong:x"}});
  c.push_back({"unsolicited pong then text",
               raw_frame("", {.opcode = 0xA}) + text("t"),
               {"pong:", "text:t"}});
  c.push_back({"fragmented ping", raw_frame("ab", {.opcode = 0x9, .fin = false}), {}, 1002});
  c.push_back({"fragmented close", raw_frame("", {.opcode = 0x8, .fin = false}), {}, 1002});
  c.push_back({"close 126 bytes", close_frame(1000, bytes(124)), {}, 1002});
}

void fragments(Cases& c) {
  c.push_back({"text in 2 fragments", text("Hel", false) + cont("lo"), {"text:Hello"}});
  c.push_back({"text in 3 fragments, empty middle",
               text("He", false) + cont("", false) + cont("llo"),
               {"text:Hello"}});
  c.push_back({"binary in fragments",
               raw_frame("ab", {.opcode = 2, .fin = false}) + cont("cd"),
               {"binary:4"}});
  c.push_back({"ping between fragments",
               text("Hel", false) + ping("p") + cont("lo"),
               {"ping:p", "text:Hello"}});
  c.push_back(
      {"pong and ping between fragments",
       text("a", false) + raw_frame("q", {.opcode = 0xA}) + cont("b", false) + ping("") + cont("c"),
       {"pong:q", "ping:", "text:abc"}});
  c.push_back({"close between fragments", text("a", false) + close_frame(1000), {"close:1000"}});
  c.push_back({"continuation without a message", cont("x"), {}, 1002});
  c.push_back({"text inside a fragmented text", text("a", false) + text("b"), {}, 1002});
  c.push_back({"binary inside a fragmented text",
               text("a", false) + raw_frame("b", {.opcode = 2}),
               {},
               1002});
  c.push_back({"continuation after a complete message", text("a") + cont("b"), {"text:a"}, 1002});
}

void reserved(Cases& c) {
  for (std::uint8_t rsv : {0x40, 0x20, 0x10}) {
    c.push_back({"rsv bits " + std::to_string(rsv), raw_frame("x", {.rsv = rsv}), {}, 1002});
  }
  c.push_back({"rsv on a ping", raw_frame("", {.opcode = 0x9, .rsv = 0x20}), {}, 1002});
  for (std::uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    c.push_back({"opcode " + std::to_string(op), raw_frame("", {.opcode = op}), {}, 1002});
  }
  c.push_back({"bad opcode after a good frame",
               text("ok") + raw_frame("", {.opcode = 0xB}),
               {"text:ok"},
               1002});
}

void close_codes(Cases& c) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                   3999, 4000, 4999}) {
    c.push_back({"close code " + std::to_string(code),
                 close_frame(static_cast<std::uint16_t>(code)),
                 {"close:" + std::to_string(code)}});
  }
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    c.push_back({"bad close code " + std::to_string(code),
                 close_frame(static_cast<std::uint16_t>(code)),
                 {},
                 1002});
  }
  c.push_back({"close without payload", raw_frame("", {.opcode = 0x8}), {"close:1005"}});
  c.push_back({"close with reason", close_frame(1000, "bye"), {"close:1000:bye"}});
  c.push_back({"close with 1-byte payload", raw_frame("\x03", {.opcode = 0x8}), {}, 1002});
  c.push_back({"close reason not UTF-8", close_frame(1000, "a\xff"), {}, 1007});
  c.push_back(
      {"bytes after close are not consumed", close_frame(1000) + text("late"), {"close:1000"}});
}

// Invalid UTF-8 at every position of a valid text, and sequences a validator gets wrong.
void utf8(Cases& c) {
  const std::string valid = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 ok \xf0\x9f\x98\x80";
  c.push_back({"valid multi-byte text", text(valid), {"text:" + valid}});
  for (std::size_t i = 0; i <= valid.size(); ++i) {
    std::string bad = valid;
    bad.insert(i, "\xff");
    c.push_back({"0xFF at byte " + std::to_string(i), text(bad), {}, 1007});
  }
  const char* invalid[] = {"\xc0\x80",
                           "\xc1\xbf",
                           "\xe0\x80\x80",
                           "\xe0\x9f\xbf",  // overlong
                           "\xed\xa0\x80",
                           "\xed\xbf\xbf",  // surrogates
                           "\xf4\x90\x80\x80",
                           "\xf5\x80\x80\x80",  // > U+10FFFF
                           "\x80",
                           "\xbf",
                           "\xce",
                           "\xe1\xbd",
                           "\xf0\x9f\x98"};  // stray / cut
  for (const char* s : invalid)
    c.push_back({"invalid sequence", text(std::string("a") + s), {}, 1007});
  // Split across fragments: a character cut between two frames is fine; a bad one is not.
  c.push_back({"character split over fragments",
               text("\xce", false) + cont("\xba", false) + cont("\xe1\xbd"),
               {},
               1007});
  c.push_back({"character split over fragments, valid",
               text("a\xf0\x9f", false) + cont("\x98", false) + cont("\x80"),
               {"text:a\xf0\x9f\x98\x80"}});
  c.push_back({"invalid in the second fragment", text("ab", false) + cont("\xce\x41"), {}, 1007});
  c.push_back({"invalid in the first of three",
               text("\xff", false) + cont("a", false) + cont("b"),
               {},
               1007});
  c.push_back({"binary is not checked", raw_frame("\xff\xfe", {.opcode = 2}), {"binary:2"}});
}

void limits(Cases& c) {
  ConformanceCase at{"message at the limit", text(bytes(1000)), {"text:" + bytes(1000)}};
  at.max_message_size = 1000;
  c.push_back(at);
  ConformanceCase over{"message over the limit", text(bytes(1001)), {}, 1009};
  over.max_message_size = 1000;
  c.push_back(over);
  ConformanceCase frags{
      "fragments over the limit", text(bytes(600), false) + cont(bytes(401)), {}, 1009};
  frags.max_message_size = 1000;
  c.push_back(frags);
  ConformanceCase frags_at{"fragments at the limit",
                           text(bytes(600), false) + cont(bytes(400)),
                           {"text:" + bytes(1000)}};
  frags_at.max_message_size = 1000;
  c.push_back(frags_at);
}

}  // namespace

std::vector<ConformanceCase> conformance_cases() {
  Cases c;
  framing(c);
  control(c);
  fragments(c);
  reserved(c);
  close_codes(c);
  utf8(c);
  limits(c);
  return c;
}

}  // namespace weft::ws::testing
