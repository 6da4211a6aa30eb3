// compression() on streamed bodies (Response::stream): each written piece arrives
// compressed and flushed — a client decodes the first piece while the producer still waits
// for it to — the decoded stream equals what was written, and the negotiation (codings,
// types, Vary) is the one of in-memory bodies.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/http/compression.hpp>
#include <weft/http/server.hpp>
#include <weft/async.hpp>

#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

// Incremental decoding: feed() gives what the bytes so far decode to.
class Decoder {
 public:
  explicit Decoder(std::string_view coding) : coding_(coding) {
    if (coding_ == "br") {
      br_ = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    } else {
      inflateInit2(&z_, coding_ == "gzip" ? 15 + 16 : 15);
    }
  }
  ~Decoder() {
    if (br_ != nullptr) {
      BrotliDecoderDestroyInstance(br_);
    } else {
      inflateEnd(&z_);
    }
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  std::string feed(std::string_view in) {
    std::string out;
    char buf[4096];
    if (br_ != nullptr) {
      std::size_t avail_in = in.size();
      const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
      for (;;) {
        std::size_t avail_out = sizeof buf;
        auto* next_out = reinterpret_cast<std::uint8_t*>(buf);
        const auto rc =
            BrotliDecoderDecompressStream(br_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
        out.append(buf, sizeof buf - avail_out);
        if (rc == BROTLI_DECODER_RESULT_ERROR) return out + "<brotli error>";
        if (rc != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) return out;
      }
    }
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      const int rc = inflate(&z_, Z_SYNC_FLUSH);
      out.append(buf, sizeof buf - z_.avail_out);
      if (rc == Z_STREAM_END) ended_ = true;
      if (rc != Z_OK || z_.avail_out != 0) return out;
    }
  }
  // The stream's end was decoded (zlib: its trailer checked; brotli: the last block).
  bool ended() const { return br_ != nullptr ? BrotliDecoderIsFinished(br_) != 0 : ended_; }

 private:
  std::string coding_;
  z_stream z_{};
  BrotliDecoderState* br_ = nullptr;
  bool ended_ = false;
};

// Splits a chunked body ("5\r\nhello\r\n0\r\n\r\n") into its chunks; nullopt while the
// terminating chunk has not arrived or on bad framing.
std::optional<std::vector<std::string>> dechunk(std::string_view body) {
  std::vector<std::string> chunks;
  for (;;) {
    const std::size_t eol = body.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    const std::size_t size = std::stoul(std::string(body.substr(0, eol)), nullptr, 16);
    body.remove_prefix(eol + 2);
    if (size == 0) return chunks;
    if (body.size() < size + 2) return std::nullopt;
    chunks.emplace_back(body.substr(0, size));
    body.remove_prefix(size + 2);
  }
}

const std::vector<std::string>& pieces() {
  static const std::vector<std::string> p = [] {
    std::vector<std::string> v{"first piece: {\"event\": 1}\n"};
    for (int i = 2; i <= 40; ++i) {
      v.push_back("data: {\"event\": " + std::to_string(i) + ", \"text\": \"" +
                  std::string(static_cast<std::size_t>(i * 50), 'x') + "\"}\n");
    }
    return v;
  }();
  return p;
}

void serve(const std::function<void(http::Server&)>& setup,
           const std::function<void(std::uint16_t)>& client) {
  Loop loop;
  {
    http::Server server(loop);
    setup(server);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] { client(port); });
  }
  weft::testing::expect_clean_close(loop);
}

// The producer writes the first piece, then waits (at most 5 s) until the client has
// decoded it, then writes the rest.
http::Handler streaming_route(std::shared_ptr<std::atomic<bool>> first_seen,
                              std::string type = "text/event-stream") {
  return [first_seen, type](Request&) {
    return Response::stream(type, [first_seen](http::BodyWriter& w) -> Task<void> {
      co_await w.write(pieces()[0]);
      for (int i = 0; i < 1000 && !first_seen->load(); ++i)
        co_await weft::sleep(std::chrono::milliseconds(5));
      for (std::size_t i = 1; i < pieces().size(); ++i) co_await w.write(pieces()[i]);
    });
  };
}

TEST(HttpStreamCompression, EachPieceIsFlushedAndTheStreamDecodes) {
  auto first_seen = std::make_shared<std::atomic<bool>>(false);
  serve(
      [&](http::Server& s) {
        s.use(http::compression());
        s.get("/events", streaming_route(first_seen));
      },
      [&](std::uint16_t port) {
        std::string all;
        for (const std::string& p : pieces()) all += p;
        for (const char* coding : {"br", "gzip", "deflate"}) {
          SCOPED_TRACE(coding);
          first_seen->store(false);
          RawClient c = RawClient::tcp(port);
          ASSERT_TRUE(c.send(get_request(
              "/events", std::string("Accept-Encoding: ") + coding + "\r\nConnection: close\r\n")));
          // The first chunk arrives and decodes to the first piece while the producer waits.
          std::string raw;
          std::size_t head_end = std::string::npos;
          std::optional<std::string> first_chunk;
          Decoder decoder(coding);
          const auto deadline = Clock::now() + 5s;
          while (!first_chunk && Clock::now() < deadline) {
            raw += c.read_some(50ms);
            head_end = raw.find("\r\n\r\n");
            if (head_end == std::string::npos) continue;
            std::string_view body = std::string_view(raw).substr(head_end + 4);
            const std::size_t eol = body.find("\r\n");
            if (eol == std::string_view::npos) continue;
            const std::size_t size = std::stoul(std::string(body.substr(0, eol)), nullptr, 16);
            if (body.size() >= eol + 2 + size)
              first_chunk = std::string(body.substr(eol + 2, size));
          }
          ASSERT_TRUE(first_chunk) << "no flushed chunk before the producer finished: " << raw;
          EXPECT_EQ(decoder.feed(*first_chunk), pieces()[0]);
          EXPECT_FALSE(first_seen->load());
          first_seen->store(true);
          ASSERT_EQ(c.wait_closed(5000ms), CloseKind::eof);
          raw = c.buffered();  // everything received (read_some keeps it there too)
          HttpResponse head;
          std::string error;
          ASSERT_TRUE(parse_head(std::string_view(raw).substr(0, head_end), head, error)) << error;
          EXPECT_EQ(head.header("Content-Encoding").value_or(""), coding);
          EXPECT_EQ(head.header("Vary").value_or(""), "Accept-Encoding");
          EXPECT_EQ(head.header("Transfer-Encoding").value_or(""), "chunked");
          EXPECT_EQ(head.header_count("Content-Length"), 0u);
          auto chunks = dechunk(std::string_view(raw).substr(head_end + 4));
          ASSERT_TRUE(chunks);
          EXPECT_GE(chunks->size(), pieces().size());  // one (at least) per piece, then the end
          Decoder whole(coding);
          std::string decoded;
          for (const std::string& chunk : *chunks) decoded += whole.feed(chunk);
          EXPECT_EQ(decoded, all);
          EXPECT_TRUE(whole.ended());
        }
      });
}

TEST(HttpStreamCompression, NegotiationIsTheSameAsForBodiesInMemory) {
  auto first_seen = std::make_shared<std::atomic<bool>>(true);
  serve(
      [&](http::Server& s) {
        s.use(http::compression({.gzip = false}));
        s.get("/events", streaming_route(first_seen));
        s.get("/png", streaming_route(first_seen, "image/png"));
      },
      [&](std::uint16_t port) {
        std::string all;
        for (const std::string& p : pieces()) all += p;
        // No acceptable coding (gzip disabled here): as written, with Vary.
        auto c = RawClient::tcp(port);
        ASSERT_TRUE(c.send(get_request("/events", "Accept-Encoding: gzip\r\n")));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header_count("Content-Encoding"), 0u);
        EXPECT_EQ(r->header("Vary").value_or(""), "Accept-Encoding");
        EXPECT_EQ(r->body, all);
        // Not a compressible type: as written, no Vary.
        ASSERT_TRUE(c.send(get_request("/png", "Accept-Encoding: br\r\n")));
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header_count("Content-Encoding"), 0u);
        EXPECT_EQ(r->header_count("Vary"), 0u);
        EXPECT_EQ(r->body, all);
        // HEAD: the head says what a GET would get, no body.
        ASSERT_TRUE(c.send("HEAD /events HTTP/1.1\r\nHost: t\r\nAccept-Encoding: deflate\r\n\r\n"));
        r = c.read_response(true);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header("Content-Encoding").value_or(""), "deflate");
        EXPECT_TRUE(r->body.empty());
        // The connection carries on after a compressed stream.
        ASSERT_TRUE(c.send(get_request("/events", "Accept-Encoding: br\r\n")));
        r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header("Content-Encoding").value_or(""), "br");
        Decoder d("br");
        EXPECT_EQ(d.feed(r->body), all);
      });
}

}  // namespace
}  // namespace weft::itest
