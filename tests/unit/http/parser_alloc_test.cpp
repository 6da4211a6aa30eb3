// HttpParserAlloc.*: parsing allocates nothing per request once the parser exists.
// Counts calls of the global operator new made by this thread while the counter is armed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>

#include "unit/http/parser_cases.hpp"
#include "weft/http/parser.hpp"

namespace {
thread_local bool g_counting = false;
thread_local std::size_t g_allocations = 0;
}  // namespace

// These replace the global operators, so malloc/free pair up; GCC cannot tell.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace weft::http {
namespace {

// Parses every request in `bytes`; returns the number completed.
int parse_all(RequestParser& parser, std::string_view bytes) {
  int completed = 0;
  for (;;) {
    const ParseResult r = parser.parse(bytes);
    bytes.remove_prefix(r.consumed);
    if (r.status == ParseStatus::message_complete) ++completed;
    if (r.status == ParseStatus::need_more || r.status == ParseStatus::error) return completed;
  }
}

TEST(HttpParserAlloc, NoAllocationPerRequest) {
  std::string batch = testing::kBrowserGet;
  batch +=
      "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n";
  batch += "PUT /q HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  RequestParser parser;
  ASSERT_EQ(parse_all(parser, batch), 3);  // warm-up: trailer storage grows once

  g_allocations = 0;
  g_counting = true;
  int completed = 0;
  for (int i = 0; i < 1000; ++i) completed += parse_all(parser, batch);
  g_counting = false;
  EXPECT_EQ(completed, 3000);
  EXPECT_EQ(g_allocations, 0u);
}

TEST(HttpParserAlloc, CounterSeesAllocations) {  // the test above can fail
  g_allocations = 0;
  g_counting = true;
  static std::string* volatile sink = nullptr;  // volatile: the allocation cannot be elided
  sink = new std::string(100, 'x');
  g_counting = false;
  delete sink;
  EXPECT_GE(g_allocations, 1u);
}

}  // namespace
}  // namespace weft::http
