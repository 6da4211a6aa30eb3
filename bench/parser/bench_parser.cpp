// bench_parser: how many requests per second one core parses with weft's RequestParser.
// Each iteration parses complete requests from memory (head + end of message), the way a
// connection does after a read: no I/O, no copies. Items processed = requests.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "weft/http/parser.hpp"

namespace {

using weft::http::ParseResult;
using weft::http::ParseStatus;
using weft::http::RequestParser;

// A browser navigation: ~560 bytes, 12 header fields.
constexpr std::string_view kBrowserGet =
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

// What wrk sends by default.
constexpr std::string_view kWrkGet = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

// A JSON API call with a small Content-Length body.
constexpr std::string_view kApiPost =
    "POST /api/notes HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: curl/8.5.0\r\n"
    "Accept: application/json\r\n"
    "Content-Type: application/json\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl\r\n"
    "Content-Length: 58\r\n"
    "\r\n"
    "{\"title\":\"groceries\",\"body\":\"milk, eggs, bread\",\"tags\":[]}";

// Parses every request in `bytes` to the end; returns how many completed.
std::size_t parse_all(RequestParser& parser, std::string_view bytes) {
  std::size_t completed = 0;
  for (;;) {
    const ParseResult r = parser.parse(bytes);
    bytes.remove_prefix(r.consumed);
    if (r.status == ParseStatus::message_complete) ++completed;
    if (r.status == ParseStatus::head_complete)
      benchmark::DoNotOptimize(parser.head().fields.data());
    if (r.status == ParseStatus::body_data) benchmark::DoNotOptimize(r.body.data());
    if (r.status == ParseStatus::need_more || r.status == ParseStatus::error) return completed;
  }
}

void run(benchmark::State& state, std::string_view bytes, std::size_t requests) {
  RequestParser parser;
  if (parse_all(parser, bytes) != requests) {
    state.SkipWithError("the benchmark input did not parse");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(parse_all(parser, bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * requests));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

std::string repeated(std::string_view request, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += request;
  return out;
}

void BM_BrowserGet(benchmark::State& state) { run(state, kBrowserGet, 1); }
void BM_WrkGet(benchmark::State& state) { run(state, kWrkGet, 1); }
void BM_ApiPost(benchmark::State& state) { run(state, kApiPost, 1); }

// 16 pipelined requests in one read (wrk with a pipelining script, or HTTP/1.1 clients).
void BM_PipelinedBrowserGet16(benchmark::State& state) {
  run(state, repeated(kBrowserGet, 16), 16);
}
void BM_PipelinedWrkGet16(benchmark::State& state) { run(state, repeated(kWrkGet, 16), 16); }

// The worst case for an incremental parser: the browser request arriving byte by byte.
void BM_BrowserGetByteByByte(benchmark::State& state) {
  RequestParser parser;
  for (auto _ : state) {
    std::size_t start = 0;
    for (std::size_t end = 1; end <= kBrowserGet.size(); ++end) {
      const ParseResult r = parser.parse(kBrowserGet.substr(start, end - start));
      start += r.consumed;
    }
    benchmark::DoNotOptimize(parser.parse(kBrowserGet.substr(start)));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

BENCHMARK(BM_BrowserGet);
BENCHMARK(BM_WrkGet);
BENCHMARK(BM_ApiPost);
BENCHMARK(BM_PipelinedBrowserGet16);
BENCHMARK(BM_PipelinedWrkGet16);
BENCHMARK(BM_BrowserGetByteByByte);

}  // namespace
