// http::compression(): compresses responses by Accept-Encoding (brotli, gzip, deflate).
//
//   app.use(weft::http::compression());                    // br > gzip > deflate, ≥ 1 KiB
//   app.use("/api", weft::http::compression({.min_size = 256}));
//   app.get("/events", [](weft::http::Request&) {         // compressed as it streams
//     return weft::http::Response::stream("text/event-stream", [](weft::http::BodyWriter& w) ->
//     weft::Task<void> {
//       co_await w.write("data: 1\n\n");   // reaches the client compressed and flushed
//     });
//   });
//
// A response is compressed when the request accepts a coding (q > 0; the server prefers
// br, then gzip, then deflate), its Content-Type is compressible (text/*, JSON,
// JavaScript, XML, SVG, +json, +xml, wasm…), it has no Content-Encoding yet, its status is
// not 1xx/204/206/304, and its body is either in memory and at least min_size bytes or
// streamed (Response::stream: its length is unknown, so min_size does not apply). It then
// gets Content-Encoding and `Vary: Accept-Encoding` (which is added for any compressible
// response, compressed or not, so caches keep the variants apart).
//
// Where the work runs: in-memory bodies up to inline_max bytes are compressed on the loop
// (a few tens of µs for a few KiB); larger ones become a streamed response whose body is
// compressed on the pool (WorkClass::cpu) and then sent, so the loop never spends
// milliseconds in zlib. A streamed body is compressed as it streams: each piece the
// producer writes is compressed on the loop and flushed at once (Z_SYNC_FLUSH, brotli's
// FLUSH), so a client decodes every piece as soon as it arrives (server-sent events,
// progress output); the producer's pieces should therefore stay moderate (tens of KiB),
// and each flush costs a few bytes of ratio. A file body (static_files: use its
// precompressed .br/.gz siblings) is left as it is.
//
// Synchronous (an after-form layer): no coroutine per request.
#pragma once

#include <weft/http/middleware.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace weft::http {

struct CompressionOptions {
  std::size_t min_size = 1024;         // smaller bodies are not worth it
  std::size_t inline_max = 64 * 1024;  // larger ones are compressed on the pool
  int gzip_level = 6;                  // zlib 1..9 (gzip and deflate)
  int brotli_quality = 4;              // 0..11: 4 is fast enough for dynamic responses
  bool brotli = true;
  bool gzip = true;
  bool deflate = true;
};

Middleware compression(CompressionOptions options = {});

enum class Coding { identity, br, gzip, deflate };
// The coding to use for an Accept-Encoding value among those enabled (identity: none).
Coding choose_coding(std::string_view accept_encoding, const CompressionOptions& options);
// `body` compressed with `coding` (br, gzip or deflate); nullopt if the library failed.
std::optional<std::string> compress(std::string_view body, Coding coding,
                                    const CompressionOptions& options);

}  // namespace weft::http
