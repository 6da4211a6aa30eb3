// The request corpus for the parser tests: valid requests with the exact result expected,
// and invalid ones with the exact error expected.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "unit/http/parser_driver.hpp"

namespace weft::http::testing {

struct ValidCase {
  std::string name;  // a GoogleTest-friendly identifier
  std::string input;
  std::vector<Message> expected;
  // libhttp-parser reports the same method, target, fields and body. False where weft
  // deliberately differs (it accepts what libhttp-parser rejects, e.g. identical duplicate
  // Content-Length or extension methods).
  bool reference_agrees = true;
};

struct InvalidCase {
  std::string name;
  std::string input;
  ParseErrc error;
  int status;                       // the HTTP status the server must answer with
  std::size_t complete_before = 0;  // pipelined requests completed before the bad one
  ParserLimits limits = {};
};

// GoogleTest prints a parameter in each test's name line: the case name, not its bytes.
inline void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.name; }
inline void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

const std::vector<ValidCase>& valid_cases();
const std::vector<InvalidCase>& invalid_cases();

// A typical browser navigation request: ~560 bytes, 12 header fields.
inline constexpr const char* kBrowserGet =
    "GET /wiki/Hypertext_Transfer_Protocol?action=view&section=3 HTTP/1.1\r\n"
    "Host: en.wikipedia.org\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;"
    "q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://en.wikipedia.org/wiki/Main_Page\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=7f3a9c2e41b84d0e9a6f; theme=dark; lang=en\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "\r\n";

}  // namespace weft::http::testing
