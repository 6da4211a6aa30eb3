#include "unit/http/parser_cases.hpp"

#include <string>

namespace weft::http::testing {

using namespace std::string_literals;

namespace {

Message get(std::string target, Fields fields, std::string host) {
  Message m;
  m.method = "GET";
  m.target = std::move(target);
  m.fields = std::move(fields);
  m.host = std::move(host);
  return m;
}

Message http10(std::string method, std::string target, Fields fields, std::string host,
               bool keep_alive) {
  Message m = get(std::move(target), std::move(fields), std::move(host));
  m.method = std::move(method);
  m.version_minor = 0;
  m.keep_alive = keep_alive;
  return m;
}

Message with_body(Message m, BodyFraming framing, std::string body, std::uint64_t cl = 0) {
  m.framing = framing;
  m.content_length = cl;
  m.body = std::move(body);
  return m;
}

std::vector<ValidCase> make_valid_cases() {
  std::vector<ValidCase> cases;
  cases.push_back({"minimal_get",
                   "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
                   {get("/", {{"Host", "example.com"}}, "example.com")}});
  cases.push_back({"browser_get",
                   kBrowserGet,
                   {get("/wiki/Hypertext_Transfer_Protocol?action=view&section=3",
                        {{"Host", "en.wikipedia.org"},
                         {"User-Agent",
                          "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
                         {"Accept",
                          "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                          "image/webp,*/*;q=0.8"},
                         {"Accept-Language", "en-US,en;q=0.5"},
                         {"Accept-Encoding", "gzip, deflate, br"},
                         {"Referer", "https://en.wikipedia.org/wiki/Main_Page"},
                         {"Connection", "keep-alive"},
                         {"Cookie", "session=7f3a9c2e41b84d0e9a6f; theme=dark; lang=en"},
                         {"Upgrade-Insecure-Requests", "1"},
                         {"Sec-Fetch-Dest", "document"},
                         {"Sec-Fetch-Mode", "navigate"},
                         {"Sec-Fetch-Site", "same-origin"}},
                        "en.wikipedia.org")}});
  {
    Message m = http10("GET", "/index.html", {}, "", false);
    cases.push_back({"http10_without_host", "GET /index.html HTTP/1.0\r\n\r\n", {m}});
  }
  {
    Message m = http10("HEAD", "/", {{"Connection", "Keep-Alive"}, {"Host", "h"}}, "h", true);
    cases.push_back(
        {"http10_keep_alive", "HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\n", {m}});
  }
  {
    Message m = get("/", {{"Host", "h"}, {"Connection", "foo, close"}}, "h");
    m.keep_alive = false;
    cases.push_back(
        {"connection_close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n", {m}});
  }
  {
    Message m = with_body(get("/submit", {{"Host", "h"}, {"Content-Length", "11"}}, "h"),
                          BodyFraming::content_length, "hello world", 11);
    m.method = "POST";
    cases.push_back({"post_content_length",
                     "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
                     {m}});
  }
  {
    Message m = with_body(get("/up", {{"Host", "h"}, {"Transfer-Encoding", "chunked"}}, "h"),
                          BodyFraming::chunked, "hello world!");
    m.method = "PUT";
    cases.push_back({"chunked_two_chunks",
                     "PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n7\r\n world!\r\n0\r\n\r\n",
                     {m}});
  }
  {
    Message m = with_body(get("/t", {{"Host", "h"}, {"Transfer-Encoding", "chunked"}}, "h"),
                          BodyFraming::chunked, "0123456789abcdef");
    m.method = "POST";
    m.trailers = {{"Expires", "never"}, {"X-Checksum", "abc123"}};
    cases.push_back({"chunked_extensions_and_trailers",
                     "POST /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "000A;name=value;flag ; q = \"quoted \\\" \\\\ text\"\r\n0123456789\r\n"
                     "6\r\nabcdef\r\n0;last\r\nExpires: never\r\nX-Checksum:abc123 \r\n\r\n",
                     {m}});
  }
  {
    Message m = get("/", {{"Host", "h"}}, "h");
    cases.push_back({"leading_empty_lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", {m}});
  }
  {
    Message m = get("/lf", {{"Host", "h"}, {"X-A", "1"}}, "h");
    cases.push_back({"bare_lf_in_head", "GET /lf HTTP/1.1\nHost: h\nX-A: 1\r\n\n", {m}});
  }
  {
    Message m =
        get("/", {{"Host", "example.com"}, {"X-Empty", ""}, {"X-Tabs", "a \t b"}}, "example.com");
    cases.push_back(
        {"value_whitespace_trimmed",
         "GET / HTTP/1.1\r\nHost: \t example.com \t\r\nX-Empty:\r\nX-Tabs:  a \t b\t \r\n\r\n",
         {m}});
  }
  {
    Message m = get("/", {{"Host", "h"}, {"X-Name", "Andr\xc3\xa9 \x80\xff"}}, "h");
    cases.push_back({"obs_text_in_value",
                     "GET / HTTP/1.1\r\nHost: h\r\nX-Name: Andr\xc3\xa9 \x80\xff\r\n\r\n",
                     {m}});
  }
  {
    Message a = get("/a", {{"Host", "h"}}, "h");
    Message b = with_body(get("/b", {{"Host", "h"}, {"Content-Length", "3"}}, "h"),
                          BodyFraming::content_length, "xyz", 3);
    b.method = "POST";
    Message c = with_body(get("/c", {{"Host", "h"}, {"Transfer-Encoding", "chunked"}}, "h"),
                          BodyFraming::chunked, "abc");
    c.method = "POST";
    cases.push_back({"pipelined_three",
                     "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                     "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
                     "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n",
                     {a, b, c}});
  }
  {
    Message m = with_body(
        get("/upload", {{"Host", "h"}, {"Content-Length", "4"}, {"Expect", "100-continue"}}, "h"),
        BodyFraming::content_length, "data", 4);
    m.method = "PUT";
    m.expect_continue = true;
    cases.push_back({"expect_continue",
                     "PUT /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
                     "Expect: 100-Continue\r\n\r\ndata",
                     {m}});
    m.fields[2].second = "100-Continue";
    cases.back().expected = {m};
  }
  {
    Message m = get("/chat",
                    {{"Host", "h"},
                     {"Upgrade", "websocket"},
                     {"Connection", "Upgrade"},
                     {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                     {"Sec-WebSocket-Version", "13"}},
                    "h");
    m.upgrade = true;
    cases.push_back(
        {"websocket_upgrade",
         "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         {m}});
  }
  {
    Message m = get("*", {{"Host", "h"}}, "h");
    m.method = "OPTIONS";
    cases.push_back({"options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", {m}});
  }
  {  // the target's authority replaces Host (RFC 9112 §3.2.2)
    Message m = get("http://a.example:8080", {{"Host", "b.example"}}, "a.example:8080");
    cases.push_back({"absolute_form_authority_is_the_host",
                     "GET http://a.example:8080 HTTP/1.1\r\nHost: b.example\r\n\r\n",
                     {m}});
  }
  {  // HTTP/1.0: an expectation is ignored (RFC 9110 §10.1.1)
    Message m = get("/", {{"Expect", "100-continue"}}, "");
    m.version_minor = 0;
    m.keep_alive = false;
    cases.push_back(
        {"expect_on_http10_ignored", "GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", {m}});
  }
  {
    Message m = get("/", {{"Host", "[::1]:8080"}}, "[::1]:8080");
    cases.push_back({"host_ipv6_literal", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", {m}});
  }
  {
    Message m = get("http://example.com/x?y=1", {{"Host", "example.com"}}, "example.com");
    cases.push_back({"absolute_form",
                     "GET http://example.com/x?y=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
                     {m}});
  }
  {
    Message m = get("/q", {{"Host", "h"}, {"Content-Length", "2"}, {"content-length", "2"}}, "h");
    m = with_body(m, BodyFraming::content_length, "ok", 2);
    m.method = "POST";
    cases.push_back(
        {"identical_duplicate_content_length",
         "POST /q HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok",
         {m},
         false});
  }
  {
    Message m = get("/q", {{"Host", "h"}, {"Content-Length", "2 ,2"}}, "h");
    m = with_body(m, BodyFraming::content_length, "ok", 2);
    m.method = "POST";
    cases.push_back({"content_length_list_identical",
                     "POST /q HTTP/1.1\r\nHost: h\r\nContent-Length: 2 ,2\r\n\r\nok",
                     {m},
                     false});
  }
  {
    Message m = get("/cache/x", {{"Host", "h"}}, "h");
    m.method = "X-PURGE_ALL";
    cases.push_back(
        {"extension_method", "X-PURGE_ALL /cache/x HTTP/1.1\r\nHost: h\r\n\r\n", {m}, false});
  }
  {
    Message m = with_body(get("/", {{"Host", "h"}, {"transfer-encoding", "Chunked"}}, "h"),
                          BodyFraming::chunked, "abcdefghijklmnopqrstuvwxyz");
    m.method = "POST";
    cases.push_back({"chunked_case_insensitive_hex",
                     "POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: Chunked\r\n\r\n"
                     "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
                     {m}});
  }
  {
    Message m = with_body(get("/", {{"Host", "h"}, {"Content-Length", "0"}}, "h"),
                          BodyFraming::content_length, "", 0);
    m.method = "POST";
    cases.push_back(
        {"content_length_zero", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", {m}});
  }
  {
    Message m = get("/a/b;p=1/%7Euser/c.d?x=1&y=%20z+w;k=v,l'm(n)*!$@:~-_", {{"Host", "h"}}, "h");
    cases.push_back({"target_punctuation",
                     "GET /a/b;p=1/%7Euser/c.d?x=1&y=%20z+w;k=v,l'm(n)*!$@:~-_ HTTP/1.1\r\n"
                     "Host: h\r\n\r\n",
                     {m}});
  }
  {
    Message m = get("/", {{"Host", "h"}, {"X-!#$%&'*+.^_`|~09az", "v"}}, "h");
    cases.push_back({"field_name_token_chars",
                     "GET / HTTP/1.1\r\nHost: h\r\nX-!#$%&'*+.^_`|~09az: v\r\n\r\n",
                     {m}});
  }
  {
    Message m = with_body(get("/", {{"Host", "h"}, {"Transfer-Encoding", ", chunked ,"}}, "h"),
                          BodyFraming::chunked, "x");
    m.method = "POST";
    cases.push_back({"transfer_encoding_empty_list_elements",
                     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked ,\r\n\r\n"
                     "1\r\nx\r\n0\r\n\r\n",
                     {m},
                     false});
  }
  {
    Message m = with_body(get("/", {{"Host", "h"}, {"Content-Length", "5"}}, "h"),
                          BodyFraming::content_length, "\r\n\0\xff\n"s, 5);
    m.method = "POST";
    cases.push_back({"binary_body",
                     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n\r\n\0\xff\n"s,
                     {m}});
  }
  {
    Message a = with_body(get("/", {{"Host", "h"}, {"Content-Length", "2"}}, "h"),
                          BodyFraming::content_length, "ab", 2);
    a.method = "POST";
    Message b = get("/next", {{"Host", "h"}}, "h");
    cases.push_back({"crlf_between_pipelined_requests",
                     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab\r\n"
                     "GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
                     {a, b}});
  }
  {
    Message m = get("/", {{"Host", "h"}}, "h");
    m.complete = false;
    m.framing = BodyFraming::content_length;
    m.content_length = 10;
    m.body = "partial";
    m.method = "POST";
    m.fields.emplace_back("Content-Length", "10");
    cases.push_back({"incomplete_body",
                     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\npartial",
                     {m},
                     false});
  }
  return cases;
}

InvalidCase bad(std::string name, std::string input, ParseErrc error, int status) {
  return InvalidCase{std::move(name), std::move(input), error, status};
}

// Wraps field lines into a complete HTTP/1.1 request head with Host.
std::string head_with(const std::string& fields) {
  return "POST / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n";
}

std::string chunked_with(const std::string& body) {
  return head_with("Transfer-Encoding: chunked\r\n") + body;
}

void add_request_line_cases(std::vector<InvalidCase>& c) {
  using E = ParseErrc;
  c.push_back(bad("lowercase_http", "GET / http/1.1\r\nHost: h\r\n\r\n", E::bad_version, 400));
  c.push_back(bad("http12", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", E::unsupported_version, 505));
  c.push_back(bad("http20", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", E::unsupported_version, 505));
  c.push_back(bad("http09", "GET / HTTP/0.9\r\n\r\n", E::unsupported_version, 505));
  c.push_back(bad("version_garbage", "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", E::bad_version, 400));
  c.push_back(bad("version_two_digits", "GET / HTTP/11.1\r\n\r\n", E::bad_version, 400));
  c.push_back(bad("no_version", "GET /\r\n\r\n", E::bad_request_line, 400));
  c.push_back(bad("double_space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_request_line, 400));
  c.push_back(bad("leading_space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_request_line, 400));
  c.push_back(bad("trailing_space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", E::bad_version, 400));
  c.push_back(bad("tab_separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_request_line, 400));
  c.push_back(bad("tab_in_method", "GET\t / HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_method, 400));
  c.push_back(bad("method_bad_char", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_method, 400));
  c.push_back(bad("target_control",
                  "GET /a\x01"
                  "b HTTP/1.1\r\nHost: h\r\n\r\n",
                  E::bad_target, 400));
  c.push_back(bad("target_del", "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target, 400));
  c.push_back(bad("target_nul", "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n"s, E::bad_target, 400));
  c.push_back(
      bad("target_non_ascii", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target, 400));
  c.push_back(
      bad("target_fragment", "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target, 400));
  c.push_back(bad("target_relative", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target, 400));
  c.push_back(bad("asterisk_not_options", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target, 400));
  c.push_back(
      bad("connect_origin_form", "CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target, 400));
  c.push_back(bad("bare_cr_request_line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", E::bare_cr, 400));
  c.push_back(bad("cr_cr_lf", "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", E::bare_cr, 400));
  c.push_back(
      bad("bare_cr_leading_line", "\r\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", E::bare_cr, 400));
  c.push_back(bad("request_line_too_long",
                  "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n",
                  E::request_line_too_long, 414));
  c.push_back(bad("tls_handshake", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"s,
                  E::bad_request_line, 400));
}

void add_field_cases(std::vector<InvalidCase>& c) {
  using E = ParseErrc;
  c.push_back(bad("obs_fold", head_with("X-A: one\r\n two\r\n"), E::obs_fold, 400));
  c.push_back(bad("leading_whitespace_first_field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
                  E::obs_fold, 400));
  c.push_back(bad("space_before_colon", head_with("X-A : v\r\n"), E::whitespace_before_colon, 400));
  c.push_back(bad("tab_before_colon", head_with("X-A\t: v\r\n"), E::whitespace_before_colon, 400));
  c.push_back(bad("space_in_name", head_with("X A: v\r\n"), E::bad_field_name, 400));
  c.push_back(bad("no_colon", head_with("X-A v\r\n"), E::missing_colon, 400));
  c.push_back(bad("empty_name", head_with(": v\r\n"), E::bad_field_name, 400));
  c.push_back(bad("name_bad_char", head_with("X@A: v\r\n"), E::bad_field_name, 400));
  c.push_back(bad("name_non_ascii", head_with("X\xc3\xa9: v\r\n"), E::bad_field_name, 400));
  c.push_back(bad("name_nul", head_with("X\0A: v\r\n"s), E::bad_field_name, 400));
  c.push_back(bad("value_nul", head_with("X-A: a\0b\r\n"s), E::bad_field_value, 400));
  c.push_back(bad("value_control",
                  head_with("X-A: a\x01"
                            "b\r\n"),
                  E::bad_field_value, 400));
  c.push_back(bad("value_del", head_with("X-A: a\x7f\r\n"), E::bad_field_value, 400));
  c.push_back(bad("value_bare_cr", head_with("X-A: a\rb\r\n"), E::bare_cr, 400));
  c.push_back(bad("value_bare_cr_end", head_with("X-A: ab\r\r\n"), E::bare_cr, 400));
  c.push_back(bad("missing_host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", E::missing_host, 400));
  int n = 0;
  for (const char* host : {"a b", "a,b", "a:8x", "[::1", "[::1]x", "a/b", "a@b", "%zz", "[g::]"}) {
    c.push_back(bad("bad_host_" + std::to_string(n++),
                    std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n", E::bad_host, 400));
  }
  c.push_back(bad("absolute_form_empty_authority", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n",
                  E::bad_host, 400));
  c.push_back(bad("absolute_form_bad_authority", "GET http://a,b/x HTTP/1.1\r\nHost: h\r\n\r\n",
                  E::bad_host, 400));
  c.push_back(bad("absolute_form_userinfo", "GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n",
                  E::bad_target, 400));
  c.push_back(bad("absolute_form_no_slashes", "GET http:x HTTP/1.1\r\nHost: h\r\n\r\n",
                  E::bad_target, 400));
  c.push_back(bad("expect_unknown", "GET / HTTP/1.1\r\nHost: h\r\nExpect: fly\r\n\r\n",
                  E::unsupported_expectation, 417));
  c.push_back(bad("connect_authority", "CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n",
                  E::connect_not_supported, 501));
  c.push_back(bad("duplicate_host", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
                  E::duplicate_host, 400));
  c.push_back(bad("duplicate_host_http10", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
                  E::duplicate_host, 400));
  c.push_back(bad("header_block_too_large", head_with("X-Big: " + std::string(17000, 'v') + "\r\n"),
                  E::header_block_too_large, 431));
  std::string many;
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  c.push_back(bad("too_many_fields", "GET / HTTP/1.1\r\n" + many + "Host: h\r\n\r\n",
                  E::too_many_fields, 431));
}

void add_framing_cases(std::vector<InvalidCase>& c) {
  using E = ParseErrc;
  c.push_back(bad("cl_and_te", head_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
                  E::content_length_with_transfer_encoding, 400));
  c.push_back(bad("te_and_cl", head_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
                  E::content_length_with_transfer_encoding, 400));
  c.push_back(bad("cl_differing", head_with("Content-Length: 5\r\nContent-Length: 6\r\n"),
                  E::conflicting_content_length, 400));
  c.push_back(bad("cl_list_differing", head_with("Content-Length: 5, 6\r\n"),
                  E::conflicting_content_length, 400));
  c.push_back(bad("cl_empty", head_with("Content-Length:\r\n"), E::bad_content_length, 400));
  c.push_back(bad("cl_negative", head_with("Content-Length: -1\r\n"), E::bad_content_length, 400));
  c.push_back(bad("cl_plus", head_with("Content-Length: +5\r\n"), E::bad_content_length, 400));
  c.push_back(bad("cl_hex", head_with("Content-Length: 0x10\r\n"), E::bad_content_length, 400));
  c.push_back(
      bad("cl_inner_space", head_with("Content-Length: 5 5\r\n"), E::bad_content_length, 400));
  c.push_back(
      bad("cl_empty_element", head_with("Content-Length: 5,,5\r\n"), E::bad_content_length, 400));
  c.push_back(bad("cl_overflow", head_with("Content-Length: 18446744073709551616\r\n"),
                  E::bad_content_length, 400));
  c.push_back(
      bad("cl_too_large", head_with("Content-Length: 1048577\r\n"), E::body_too_large, 413));
  c.push_back(bad("te_gzip_only", head_with("Transfer-Encoding: gzip\r\n"),
                  E::transfer_encoding_not_chunked, 400));
  c.push_back(bad("te_chunked_not_last", head_with("Transfer-Encoding: chunked, gzip\r\n"),
                  E::transfer_encoding_not_chunked, 400));
  c.push_back(bad("te_second_line_not_chunked",
                  head_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
                  E::transfer_encoding_not_chunked, 400));
  c.push_back(bad("te_identity", head_with("Transfer-Encoding: identity\r\n"),
                  E::transfer_encoding_not_chunked, 400));
  c.push_back(bad("te_gzip_chunked", head_with("Transfer-Encoding: gzip, chunked\r\n"),
                  E::unsupported_transfer_coding, 501));
  c.push_back(bad("te_unknown_chunked", head_with("Transfer-Encoding: foo;x=1, chunked\r\n"),
                  E::unsupported_transfer_coding, 501));
  c.push_back(bad("te_chunked_twice", head_with("Transfer-Encoding: chunked, chunked\r\n"),
                  E::bad_transfer_encoding, 400));
  c.push_back(bad("te_chunked_params", head_with("Transfer-Encoding: chunked;q=1\r\n"),
                  E::bad_transfer_encoding, 400));
  c.push_back(bad("te_empty", head_with("Transfer-Encoding:\r\n"), E::bad_transfer_encoding, 400));
  c.push_back(bad("te_garbage", head_with("Transfer-Encoding: \"chunked\"\r\n"),
                  E::bad_transfer_encoding, 400));
  c.push_back(bad("te_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                  E::transfer_encoding_on_http10, 400));
}

void add_chunked_cases(std::vector<InvalidCase>& c) {
  using E = ParseErrc;
  c.push_back(bad("chunk_missing_crlf", chunked_with("5\r\nhelloX"), E::missing_chunk_crlf, 400));
  c.push_back(
      bad("chunk_cr_without_lf", chunked_with("5\r\nhello\rX"), E::missing_chunk_crlf, 400));
  c.push_back(
      bad("chunk_data_too_long", chunked_with("5\r\nhello world\r\n"), E::missing_chunk_crlf, 400));
  c.push_back(
      bad("chunk_data_bare_lf", chunked_with("5\r\nhello\n0\r\n\r\n"), E::bare_lf_in_chunked, 400));
  c.push_back(bad("chunk_line_bare_lf", chunked_with("5\nhello\r\n"), E::bare_lf_in_chunked, 400));
  c.push_back(bad("chunk_size_not_hex", chunked_with("zz\r\n"), E::bad_chunk_size, 400));
  c.push_back(bad("chunk_size_empty", chunked_with("\r\n"), E::bad_chunk_size, 400));
  c.push_back(bad("chunk_size_negative", chunked_with("-5\r\n"), E::bad_chunk_size, 400));
  c.push_back(bad("chunk_size_0x", chunked_with("0x5\r\n"), E::bad_chunk_extension, 400));
  c.push_back(bad("chunk_size_leading_space", chunked_with(" 5\r\n"), E::bad_chunk_size, 400));
  c.push_back(bad("chunk_size_trailing_space", chunked_with("5 \r\nhello\r\n"),
                  E::bad_chunk_extension, 400));
  c.push_back(bad("chunk_size_overflow", chunked_with("10000000000000000\r\n"),
                  E::chunk_size_overflow, 400));
  c.push_back(
      bad("chunk_size_too_large", chunked_with("FFFFFFFFFFFFFFFF\r\n"), E::body_too_large, 413));
  c.push_back(bad("chunk_ext_empty", chunked_with("5;\r\n"), E::bad_chunk_extension, 400));
  c.push_back(bad("chunk_ext_no_value", chunked_with("5;a=\r\n"), E::bad_chunk_extension, 400));
  c.push_back(bad("chunk_ext_unterminated_quote", chunked_with("5;a=\"x\r\n"),
                  E::bad_chunk_extension, 400));
  c.push_back(bad("chunk_ext_two_words", chunked_with("5;a b\r\n"), E::bad_chunk_extension, 400));
  c.push_back(bad("chunk_ext_bare_cr", chunked_with("5;a\rb\r\n"), E::bad_chunk_extension, 400));
  c.push_back(bad("chunk_line_too_long", chunked_with("5;a=" + std::string(5000, 'x') + "\r\n"),
                  E::chunk_line_too_long, 400));
  c.push_back(bad("trailer_bare_lf", chunked_with("0\r\nX: y\n\r\n"), E::bare_lf_in_chunked, 400));
  c.push_back(bad("trailer_end_bare_lf", chunked_with("0\r\n\n"), E::bare_lf_in_chunked, 400));
  c.push_back(bad("trailer_obs_fold", chunked_with("0\r\nX: y\r\n z\r\n\r\n"), E::obs_fold, 400));
  c.push_back(bad("trailer_space_colon", chunked_with("0\r\nX : y\r\n\r\n"),
                  E::whitespace_before_colon, 400));
  c.push_back(bad("trailer_too_large",
                  chunked_with("0\r\nX: " + std::string(17000, 'y') + "\r\n\r\n"),
                  E::header_block_too_large, 431));
}

void add_pipelined_cases(std::vector<InvalidCase>& c) {
  auto ok =
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx"s;
  InvalidCase smuggle = bad("pipelined_then_smuggle",
                            ok + head_with("Content-Length: 1\r\nTransfer-Encoding: chunked\r\n"),
                            ParseErrc::content_length_with_transfer_encoding, 400);
  smuggle.complete_before = 2;
  c.push_back(smuggle);
  InvalidCase garbage =
      bad("pipelined_then_garbage", ok + "\x01\x02\r\n", ParseErrc::bad_request_line, 400);
  garbage.complete_before = 2;
  c.push_back(garbage);
}

void add_limit_cases(std::vector<InvalidCase>& c) {
  InvalidCase small = bad("small_body_limit_chunked", chunked_with("8\r\n12345678\r\n9\r\n"),
                          ParseErrc::body_too_large, 413);
  small.limits.max_body = 16;
  c.push_back(small);
  InvalidCase fields =
      bad("small_field_count", head_with("A: 1\r\nB: 2\r\n"), ParseErrc::too_many_fields, 431);
  fields.limits.max_header_fields = 2;
  c.push_back(fields);
  InvalidCase line = bad("small_request_line", "\r\n\r\nGET /abcdef HTTP/1.1\r\n",
                         ParseErrc::request_line_too_long, 414);
  line.limits.max_request_line = 24;  // the request line alone (22) fits; not with the CRLFs
  c.push_back(line);
  InvalidCase block =
      bad("small_header_block", head_with("X: 123456\r\n"), ParseErrc::header_block_too_large, 431);
  block.limits.max_header_block = 20;
  c.push_back(block);
}

std::vector<InvalidCase> make_invalid_cases() {
  std::vector<InvalidCase> cases;
  add_request_line_cases(cases);
  add_field_cases(cases);
  add_framing_cases(cases);
  add_chunked_cases(cases);
  add_pipelined_cases(cases);
  add_limit_cases(cases);
  return cases;
}

}  // namespace

const std::vector<ValidCase>& valid_cases() {
  static const std::vector<ValidCase> cases = make_valid_cases();
  return cases;
}

const std::vector<InvalidCase>& invalid_cases() {
  static const std::vector<InvalidCase> cases = make_invalid_cases();
  return cases;
}

}  // namespace weft::http::testing
