// ResponseParserDifferential.*: weft's response parser against libhttp-parser's response
// mode (HTTP_RESPONSE) on generated streams of valid responses (Content-Length, chunked
// with extensions and trailers, close-delimited last responses, 1xx interim responses,
// 204/304, HTTP/1.0). Both must report the same status, fields, bodies, trailers and
// keep-alive verdict — and exactly what the generator built — whole and split.
#include <gtest/gtest.h>
#include <http_parser.h>

#include <cstdio>
#include <random>
#include <string>

#include "unit/http/response_driver.hpp"

namespace weft::http::testing {
namespace {

struct Ref {
  std::vector<RMessage> messages;
  std::string name, value;
  bool in_value = false, headers_done = false;
  std::string error;

  void flush() {
    if (!in_value) return;
    RFields& into = headers_done ? messages.back().trailers : messages.back().fields;
    into.emplace_back(std::move(name), std::move(value));
    name.clear();
    value.clear();
    in_value = false;
  }
};

Ref& ref(http_parser* p) { return *static_cast<Ref*>(p->data); }

int on_begin(http_parser* p) {
  ref(p).messages.emplace_back();
  ref(p).headers_done = false;
  return 0;
}
int on_status(http_parser* p, const char* at, std::size_t n) {
  ref(p).messages.back().reason.append(at, n);
  return 0;
}
int on_field(http_parser* p, const char* at, std::size_t n) {
  ref(p).flush();
  ref(p).name.append(at, n);
  return 0;
}
int on_value(http_parser* p, const char* at, std::size_t n) {
  ref(p).in_value = true;
  ref(p).value.append(at, n);
  return 0;
}
int on_headers(http_parser* p) {
  Ref& r = ref(p);
  r.flush();
  r.messages.back().status = static_cast<int>(p->status_code);
  r.messages.back().version_minor = p->http_minor;
  r.headers_done = true;
  return 0;
}
int on_body(http_parser* p, const char* at, std::size_t n) {
  ref(p).messages.back().body.append(at, n);
  return 0;
}
int on_complete(http_parser* p) {
  Ref& r = ref(p);
  r.flush();
  r.messages.back().keep_alive = http_should_keep_alive(p) != 0;
  r.messages.back().complete = true;
  return 0;
}

Ref run_reference(const std::string& wire) {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = on_begin;
  s.on_status = on_status;
  s.on_header_field = on_field;
  s.on_header_value = on_value;
  s.on_headers_complete = on_headers;
  s.on_body = on_body;
  s.on_message_complete = on_complete;
  Ref r;
  http_parser p;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &r;
  http_parser_execute(&p, &s, wire.data(), wire.size());
  if (HTTP_PARSER_ERRNO(&p) == HPE_OK) http_parser_execute(&p, &s, nullptr, 0);  // the close
  if (HTTP_PARSER_ERRNO(&p) != HPE_OK) r.error = http_errno_name(HTTP_PARSER_ERRNO(&p));
  // libhttp-parser reports interim responses as messages of their own; weft skips them.
  std::erase_if(r.messages, [](const RMessage& m) { return m.status >= 100 && m.status < 200; });
  return r;
}

// What both report: libhttp-parser keeps trailing whitespace of values (weft trims).
struct Comparable {
  int version_minor, status;
  std::string reason;
  RFields fields, trailers;
  std::string body;
  bool keep_alive, complete;
  bool operator==(const Comparable&) const = default;
};

std::vector<Comparable> comparable(const std::vector<RMessage>& ms) {
  std::vector<Comparable> out;
  for (const RMessage& m : ms)
    out.push_back({m.version_minor, m.status, m.reason, m.fields, m.trailers, m.body, m.keep_alive,
                   m.complete});
  return out;
}

class ResponseGenerator {
 public:
  explicit ResponseGenerator(unsigned seed) : rng_(seed) {}

  // Appends one valid response; `last` allows a close-delimited body.
  RMessage next(std::string& wire, bool last) {
    RMessage m;
    m.version_minor = between(0, 5) == 0 ? 0 : 1;
    if (m.version_minor == 1 && between(0, 3) == 0) {
      const int n = between(1, 2);
      m.informational = static_cast<std::size_t>(n);
      for (int i = 0; i < n; ++i)
        wire += i == 0 ? "HTTP/1.1 100 Continue\r\n\r\n"
                       : "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n";
    }
    static constexpr int kStatus[] = {200, 201, 204, 301, 304, 400, 404, 500, 503};
    m.status = kStatus[between(0, 8)];
    m.reason = word(kReason, 1, 20);
    while (!m.reason.empty() && m.reason.back() == ' ') m.reason.pop_back();
    if (m.reason.empty()) m.reason = "R";
    for (int i = 0, n = between(0, 10); i < n; ++i)
      m.fields.emplace_back("X-" + word(kName, 1, 12), value());
    m.keep_alive = m.version_minor == 1;
    if (m.version_minor == 0 && between(0, 1) == 0) {
      m.fields.emplace_back("Connection", "keep-alive");
      m.keep_alive = true;
    }
    std::string body_wire = add_body(m, last);
    wire += "HTTP/1." + std::to_string(m.version_minor) + " " + std::to_string(m.status) + " " +
            m.reason + "\r\n";
    for (const auto& [n, v] : m.fields) wire += n + ":" + (between(0, 3) ? " " : "") + v + "\r\n";
    wire += "\r\n" + body_wire;
    m.complete = true;
    return m;
  }

 private:
  static constexpr std::string_view kName =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~";
  static constexpr std::string_view kReason =
      "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ";

  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::string word(std::string_view alphabet, int lo, int hi) {
    std::string s;
    for (int i = 0, n = between(lo, hi); i < n; ++i)
      s += alphabet[static_cast<std::size_t>(between(0, static_cast<int>(alphabet.size()) - 1))];
    return s;
  }
  std::string value() {
    std::string v;
    for (int i = 0, n = between(0, 40); i < n; ++i) v += static_cast<char>(between(0x21, 0x7e));
    return v;
  }
  std::string bytes(int max_len) {
    std::string s;
    for (int i = 0, n = between(0, max_len); i < n; ++i) s += static_cast<char>(between(0, 255));
    return s;
  }

  std::string add_body(RMessage& m, bool last) {
    if (m.status == 204 || m.status == 304) {
      m.framing = ResponseFraming::none;
      return {};
    }
    const int kind = between(0, last ? 2 : 1);
    if (kind == 0 || m.version_minor == 0) {
      m.body = bytes(300);
      m.framing = ResponseFraming::content_length;
      m.content_length = m.body.size();
      m.fields.emplace_back("Content-Length", std::to_string(m.body.size()));
      return m.body;
    }
    if (kind == 2) {
      m.body = bytes(300);
      m.framing = ResponseFraming::until_close;
      m.keep_alive = false;
      return m.body;
    }
    m.framing = ResponseFraming::chunked;
    m.fields.emplace_back("Transfer-Encoding", "chunked");
    m.body = bytes(400);
    std::string out;
    char size[32];
    for (std::size_t at = 0; at < m.body.size();) {
      const std::size_t n =
          std::min<std::size_t>(m.body.size() - at, static_cast<std::size_t>(between(1, 90)));
      std::snprintf(size, sizeof size, "%zx", n);
      out += size;
      if (between(0, 3) == 0) out += ";e=" + word(kName, 1, 5);
      out += "\r\n" + m.body.substr(at, n) + "\r\n";
      at += n;
    }
    out += "0\r\n";
    for (int i = 0, n = between(0, 2); i < n; ++i) {
      m.trailers.emplace_back("X-T" + word(kName, 1, 5), value());
      out += m.trailers.back().first + ": " + m.trailers.back().second + "\r\n";
    }
    return out + "\r\n";
  }

  std::mt19937 rng_;
};

TEST(ResponseParserDifferential, GeneratedResponsesMatchGeneratorAndReference) {
  for (unsigned seed = 1; seed <= 400; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ResponseGenerator gen(seed);
    std::string wire;
    std::vector<RMessage> expected;
    const int n = 1 + static_cast<int>(seed % 4);
    for (int i = 0; i < n; ++i) {
      expected.push_back(gen.next(wire, i == n - 1));
      if (!expected.back().keep_alive) break;  // nothing follows a closing response
    }

    const ResponseDriver d = run_response(wire, {});
    ASSERT_EQ(d.transcript().error, ParseErrc::none) << describe(d.transcript().error);
    ASSERT_TRUE(d.violations().empty());
    ASSERT_EQ(d.transcript().messages, expected);

    const Ref r = run_reference(wire);
    ASSERT_EQ(r.error, "");
    ASSERT_EQ(comparable(d.transcript().messages), comparable(r.messages));

    const ResponseDriver pieces =
        run_response(wire, {seed % wire.size(), wire.size() / 2 + seed % 7});
    ASSERT_EQ(pieces.transcript(), d.transcript());
  }
}

TEST(ResponseParserDifferential, BothRejectSmugglingShapes) {
  for (const char* wire :
       {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    SCOPED_TRACE(wire);
    EXPECT_NE(run_reference(wire).error, "");
    EXPECT_NE(run_response(wire, {}).transcript().error, ParseErrc::none);
  }
}

}  // namespace
}  // namespace weft::http::testing
