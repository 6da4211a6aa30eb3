// HttpClientBrotli.*: br bodies (Content-Encoding: br) decoded through libbrotlidec, the
// Accept-Encoding the client sends, a corrupt stream, and a brotli bomb that stops at
// max_response_size after decoding.
#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <weft/http/client.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>

#include <chrono>

#include "support/loop_testing.hpp"
#include "unit/http_client/raw_server.hpp"

namespace weft::http::ctest {
namespace {

std::string brotli(const std::string& in, int quality) {
  std::string out(BrotliEncoderMaxCompressedSize(in.size()), '\0');
  std::size_t size = out.size();
  EXPECT_EQ(BrotliEncoderCompress(quality, 22, BROTLI_MODE_GENERIC, in.size(),
                                  reinterpret_cast<const std::uint8_t*>(in.data()), &size,
                                  reinterpret_cast<std::uint8_t*>(out.data())),
            BROTLI_TRUE);
  out.resize(size);
  return out;
}

// Serves `body` with Content-Encoding: br to every request; records the request heads.
struct BrServer {
  explicit BrServer(std::string body)
      : coded(std::move(body)), server([this](RawConn& c, int) {
          c.read_request();
          c.send("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: " +
                 std::to_string(coded.size()) + "\r\nConnection: close\r\n\r\n" + coded);
        }) {}
  std::string coded;
  RawServer server;
};

struct Outcome {
  std::string body;
  std::string error;
  FetchErrc kind = FetchErrc::io;
};

Outcome fetch_body(const std::string& url, std::uint64_t max) {
  Loop loop;
  Outcome out;
  run_until_complete(loop, [&]() -> Task<void> {
    Client client(loop);
    FetchOptions o;
    o.max_response_size = max;
    try {
      ClientResponse res = co_await client.fetch(url, o);
      out.body = co_await res.text();
    } catch (const FetchError& e) {
      out.error = e.what();
      out.kind = e.kind();
    }
  }());
  loop.run();
  weft::testing::expect_clean_close(loop);
  return out;
}

TEST(HttpClientBrotli, BodyIsDecodedAndBrIsAdvertised) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + " of a brotli body\n";
  BrServer br(brotli(text, 9));
  const Outcome o = fetch_body(br.server.url("/br"), 64 * 1024 * 1024);
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.body, text);
  EXPECT_NE(br.server.last_request().find("Accept-Encoding: gzip, deflate, br\r\n"),
            std::string::npos)
      << br.server.last_request();
}

TEST(HttpClientBrotli, CorruptStreamIsADecodeError) {
  std::string coded = brotli(std::string(100000, 'q'), 5);
  coded.resize(coded.size() / 2);
  coded += std::string(64, '\xff');
  BrServer br(coded);
  const Outcome o = fetch_body(br.server.url("/bad"), 64 * 1024 * 1024);
  EXPECT_EQ(o.kind, FetchErrc::decode) << o.error;
  EXPECT_NE(o.error.find("cannot decode the response body: brotli: "), std::string::npos)
      << o.error;
}

TEST(HttpClientBrotli, BombStopsAtMaxResponseSizeAfterDecoding) {
  const std::string bomb = brotli(std::string(64 * 1024 * 1024, '\0'), 2);  // 64 MiB of zeros
  ASSERT_LT(bomb.size(), 64u * 1024);                                       // a few KiB on the wire
  BrServer br(bomb);
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = fetch_body(br.server.url("/bomb"), 1024 * 1024);
  EXPECT_EQ(o.kind, FetchErrc::too_large) << o.error;
  EXPECT_NE(o.error.find("max_response_size (1048576 bytes)"), std::string::npos) << o.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::seconds(5));  // stopped early, not 64 MiB later
}

}  // namespace
}  // namespace weft::http::ctest
