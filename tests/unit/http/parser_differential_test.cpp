// HttpParserDifferential.*: weft's parser against libhttp-parser (Debian's
// libhttp-parser-dev, the parser Node.js used before llhttp) on the same bytes: the valid
// corpus and a generated corpus of random valid requests. Both must report the same
// method, target, version, fields, body and trailers — and for generated requests, exactly
// what the generator built.
#include <gtest/gtest.h>
#include <http_parser.h>

#include <cstdio>
#include <random>
#include <string>

#include "unit/http/parser_cases.hpp"
#include "unit/http/parser_driver.hpp"

namespace weft::http::testing {
namespace {

// ---- libhttp-parser as a reference -----------------------------------------------------

// Collects libhttp-parser's callbacks into the same Message shape weft's driver produces.
struct Reference {
  std::vector<Message> messages;
  std::string name, value;
  bool in_value = false;
  bool headers_done = false;
  std::string error;

  void flush_field() {
    if (!in_value) return;
    Fields& into = headers_done ? messages.back().trailers : messages.back().fields;
    into.emplace_back(std::move(name), std::move(value));
    name.clear();
    value.clear();
    in_value = false;
  }
};

Reference& ref(http_parser* p) { return *static_cast<Reference*>(p->data); }

int on_message_begin(http_parser* p) {
  Reference& r = ref(p);
  r.messages.emplace_back();
  r.messages.back().complete = false;
  r.headers_done = false;
  return 0;
}

int on_url(http_parser* p, const char* at, std::size_t n) {
  ref(p).messages.back().target.append(at, n);
  return 0;
}

int on_header_field(http_parser* p, const char* at, std::size_t n) {
  Reference& r = ref(p);
  r.flush_field();
  r.name.append(at, n);
  return 0;
}

int on_header_value(http_parser* p, const char* at, std::size_t n) {
  Reference& r = ref(p);
  r.in_value = true;
  r.value.append(at, n);
  return 0;
}

int on_headers_complete(http_parser* p) {
  Reference& r = ref(p);
  r.flush_field();
  Message& m = r.messages.back();
  m.method = http_method_str(static_cast<http_method>(p->method));
  m.version_minor = p->http_minor;
  m.keep_alive = http_should_keep_alive(p) != 0;
  r.headers_done = true;
  return 0;
}

int on_body(http_parser* p, const char* at, std::size_t n) {
  ref(p).messages.back().body.append(at, n);
  return 0;
}

int on_message_complete(http_parser* p) {
  Reference& r = ref(p);
  r.flush_field();
  r.messages.back().complete = true;
  return 0;
}

Reference run_reference(const std::string& input) {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_message_begin = on_message_begin;
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
  Reference r;
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &r;
  http_parser_execute(&parser, &settings, input.data(), input.size());
  if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
    r.error = http_errno_name(HTTP_PARSER_ERRNO(&parser));
  }
  return r;
}

// The part of a message both parsers report. libhttp-parser keeps trailing whitespace of
// field values, which weft trims (RFC 9110 §5.5), so values are compared trimmed.
struct Comparable {
  std::string method, target;
  int version_minor;
  Fields fields, trailers;
  std::string body;
  bool keep_alive, complete;
  bool operator==(const Comparable&) const = default;
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

Fields trimmed(Fields fields) {
  for (auto& f : fields) f.second = trim(f.second);
  return fields;
}

std::vector<Comparable> comparable(const std::vector<Message>& messages) {
  std::vector<Comparable> out;
  for (const Message& m : messages) {
    out.push_back({m.method, m.target, m.version_minor, trimmed(m.fields), trimmed(m.trailers),
                   m.body, m.keep_alive, m.complete});
  }
  return out;
}

void PrintTo(const Comparable& c, std::ostream* os) {
  *os << c.method << " " << c.target << " 1." << c.version_minor << " fields=" << c.fields.size()
      << " body=" << c.body.size() << " keep_alive=" << c.keep_alive;
}

// ---- the valid corpus ------------------------------------------------------------------

TEST(HttpParserDifferential, ValidCorpusMatchesReference) {
  int compared = 0;
  for (const ValidCase& c : valid_cases()) {
    if (!c.reference_agrees) continue;
    SCOPED_TRACE(c.name);
    const Reference r = run_reference(c.input);
    ASSERT_EQ(r.error, "") << "libhttp-parser rejected " << c.name;
    const Driver d = run_whole(c.input);
    EXPECT_EQ(comparable(d.transcript().messages), comparable(r.messages));
    ++compared;
  }
  EXPECT_GE(compared, 20);
}

TEST(HttpParserDifferential, ReferenceRejectsWhatWeftRejectsForSmuggling) {
  // Sanity check of the reference itself on the classic CL.TE smuggling request.
  const Reference r =
      run_reference("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
  EXPECT_NE(r.error, "");
}

// ---- a generated corpus ----------------------------------------------------------------

class RequestGenerator {
 public:
  explicit RequestGenerator(unsigned seed) : rng_(seed) {}

  // Appends one random valid request to `wire` and returns what it should parse to.
  Message next(std::string& wire) {
    Message m;
    m.method = pick({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"});
    m.target = target();
    m.version_minor = 1;
    m.host = word(kHostChars, 1, 20);
    m.fields.emplace_back(pick({"Host", "host", "HOST"}), m.host);
    for (int i = 0, n = between(0, 14); i < n; ++i) m.fields.emplace_back(name(), value());
    if (between(0, 5) == 0) {
      m.fields.emplace_back("Connection", "close");
      m.keep_alive = false;
    }
    add_body(m);
    wire += serialize(m);
    return m;
  }

 private:
  static constexpr std::string_view kHostChars = "abcdefghijklmnopqrstuvwxyz0123456789.-";
  static constexpr std::string_view kPathChars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@%/";
  static constexpr std::string_view kNameChars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~";

  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string pick(std::initializer_list<const char*> options) {
    return *(options.begin() + between(0, static_cast<int>(options.size()) - 1));
  }

  std::string word(std::string_view alphabet, int min_len, int max_len) {
    std::string s;
    for (int i = 0, n = between(min_len, max_len); i < n; ++i) {
      s += alphabet[static_cast<std::size_t>(between(0, static_cast<int>(alphabet.size()) - 1))];
    }
    return s;
  }

  std::string target() {
    std::string t = "/" + word(kPathChars, 0, 40);
    if (between(0, 2) == 0) t += "?" + word(kPathChars, 0, 30) + "?";
    return t;
  }

  std::string name() { return "X-" + word(kNameChars, 1, 20); }

  // VCHAR with inner spaces and tabs, never at the ends (those are trimmed).
  std::string value() {
    std::string v;
    for (int i = 0, n = between(0, 60); i < n; ++i) {
      const int kind = between(0, 9);
      v += kind == 0 ? ' ' : kind == 1 ? '\t' : static_cast<char>(between(0x21, 0x7e));
    }
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(0, 1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    return v;
  }

  std::string bytes(int max_len) {
    std::string s;
    for (int i = 0, n = between(0, max_len); i < n; ++i) s += static_cast<char>(between(0, 255));
    return s;
  }

  void add_body(Message& m) {
    if (m.method == "GET" || m.method == "HEAD") return;
    const int kind = between(0, 2);
    if (kind == 1) {
      m.body = bytes(300);
      m.framing = BodyFraming::content_length;
      m.content_length = m.body.size();
      m.fields.emplace_back("Content-Length", std::to_string(m.body.size()));
    } else if (kind == 2) {
      m.framing = BodyFraming::chunked;
      m.fields.emplace_back("Transfer-Encoding", "chunked");
      for (int i = 0, n = between(0, 5); i < n; ++i) m.body += bytes(100);
      for (int i = 0, n = between(0, 2); i < n; ++i) m.trailers.emplace_back(name(), value());
    }
  }

  std::string chunked(const std::string& body, const Fields& trailers) {
    std::string out;
    char size[32];
    for (std::size_t at = 0; at < body.size();) {
      const std::size_t n =
          std::min<std::size_t>(body.size() - at, static_cast<std::size_t>(between(1, 64)));
      std::snprintf(size, sizeof size, between(0, 1) ? "%zx" : "%zX", n);
      out += size;
      if (between(0, 3) == 0) out += ";ext=" + word(kHostChars, 1, 8);
      out += "\r\n" + body.substr(at, n) + "\r\n";
      at += n;
    }
    out += "0\r\n";
    for (const auto& [n, v] : trailers) out += n + ": " + v + "\r\n";
    return out + "\r\n";
  }

  std::string serialize(const Message& m) {
    std::string out = m.method + " " + m.target + " HTTP/1.1\r\n";
    for (const auto& [n, v] : m.fields) out += n + ":" + (between(0, 3) ? " " : "") + v + "\r\n";
    out += "\r\n";
    if (m.framing == BodyFraming::chunked) return out + chunked(m.body, m.trailers);
    return out + m.body;
  }

  std::mt19937 rng_;
};

TEST(HttpParserDifferential, GeneratedCorpusMatchesGeneratorAndReference) {
  for (unsigned seed = 1; seed <= 400; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RequestGenerator gen(seed);
    std::string wire;
    std::vector<Message> expected;
    for (int i = 0, n = 1 + static_cast<int>(seed % 3); i < n; ++i)
      expected.push_back(gen.next(wire));

    const Driver d = run_whole(wire);
    ASSERT_EQ(d.transcript().error, ParseErrc::none) << describe(d.transcript().error);
    ASSERT_EQ(d.transcript().messages, expected);

    const Reference r = run_reference(wire);
    ASSERT_EQ(r.error, "");
    ASSERT_EQ(comparable(d.transcript().messages), comparable(r.messages));

    const Driver pieces = run_in_pieces(wire, {seed % wire.size(), wire.size() / 2 + seed % 7});
    ASSERT_EQ(pieces.transcript(), d.transcript());
    ASSERT_TRUE(pieces.violations().empty());
  }
}

}  // namespace
}  // namespace weft::http::testing
