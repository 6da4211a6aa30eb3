// Streamed responses (Response::stream): a slow reader holds the producer back instead of
// growing memory; HTTP/1.0 bodies end at close; a client that resets cancels the producer.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <thread>

namespace weft::itest {
namespace {

using http::BodyWriter;
using http::Request;
using http::Response;

constexpr std::size_t kPiece = 64 * 1024;
constexpr int kPieces = 1024;  // 64 MiB

struct Counters {
  std::atomic<int> written{0};
  std::atomic<bool> finished{false};
};

char piece_char(int i) { return static_cast<char>('a' + i % 26); }

void add_routes(http::Server& s, Counters* k) {
  s.get("/big", [k](Request&) {
    return Response::stream("application/octet-stream", [k](BodyWriter& w) -> Task<void> {
      for (int i = 0; i < kPieces; ++i) {
        std::string piece(kPiece, piece_char(i));
        k->written.fetch_add(1);
        co_await w.write(piece);
      }
      k->finished = true;
    });
  });
  s.get("/few", [](Request&) {
    return Response::stream("text/plain", [](BodyWriter& w) -> Task<void> {
      co_await w.write("one,");
      co_await weft::sleep(std::chrono::milliseconds(5));
      co_await w.write("two,");
      co_await w.write("");  // ignored: an empty chunk would end the body
      co_await w.write("three");
    });
  });
}

void with_server(const std::function<void(std::uint16_t, Counters&)>& client) {
  Counters k;
  Loop loop;
  {
    http::Server server(loop);
    add_routes(server, &k);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(
        loop, server, [&] { client(port, k); }, RunOptions{.limit = 90000ms});
  }
  weft::testing::expect_clean_close(loop);
}

long sysctl_max(const char* path) {
  std::ifstream f(path);
  long lo = 0, def = 0, hi = 0;
  f >> lo >> def >> hi;
  return hi;
}

TEST(HttpStream, SlowReaderHoldsTheProducerBack) {
  with_server([](std::uint16_t port, Counters& k) {
    RawClient c = RawClient::tcp(port, /*rcvbuf=*/64 * 1024);
    ASSERT_TRUE(c.ok());
    int rcvbuf = 0;
    socklen_t len = sizeof rcvbuf;
    ::getsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
    const long rss0 = rss_kib();
    ASSERT_TRUE(c.send(get_request("/big")));
    std::this_thread::sleep_for(500ms);  // not reading
    const int written_while_paused = k.written.load();
    const long rss_growth_kib = rss_kib() - rss0;

    // What may be in flight: the connection's high-water mark, the server socket's send
    // buffer (at most tcp_wmem's max), the client's receive buffer, one piece in hand.
    const long wmem_max = sysctl_max("/proc/sys/net/ipv4/tcp_wmem");
    const long bound =
        (64 * 1024 + static_cast<long>(kPiece) + wmem_max + rcvbuf) / static_cast<long>(kPiece) + 4;
    EXPECT_GT(written_while_paused, 0);
    EXPECT_LE(written_while_paused, bound)
        << "the producer was not held back (wmem_max " << wmem_max << ", rcvbuf " << rcvbuf << ")";
    EXPECT_LT(written_while_paused, kPieces);
    EXPECT_LT(rss_growth_kib, 32 * 1024) << "RSS grew while the client was not reading";
    std::printf(
        "[ info ] pieces written while the client did not read: %d (bound %ld); "
        "RSS growth %ld KiB\n",
        written_while_paused, bound, rss_growth_kib);

    auto r = c.read_response(false, 60000ms);
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 200);
    // the connection is still usable after a streamed response (asked at once: checking
    // 64 MiB under TSan can outlast the 5 s keep-alive timeout)
    ASSERT_TRUE(c.send(get_request("/few")));
    auto few = c.read_response();
    ASSERT_TRUE(few) << c.error();
    EXPECT_EQ(few->body, "one,two,three");

    EXPECT_TRUE(r->chunked);
    EXPECT_FALSE(r->header("Content-Length"));
    ASSERT_EQ(r->body.size(), kPiece * kPieces);
    ASSERT_EQ(r->chunk_sizes.size(), static_cast<std::size_t>(kPieces));
    for (int i = 0; i < kPieces; ++i) {
      ASSERT_EQ(r->chunk_sizes[static_cast<std::size_t>(i)], kPiece) << i;
      const std::string_view block(r->body.data() + static_cast<std::size_t>(i) * kPiece, kPiece);
      ASSERT_EQ(block.find_first_not_of(piece_char(i)), std::string_view::npos) << "piece " << i;
    }
    EXPECT_TRUE(k.finished.load());
  });
}

TEST(HttpStream, Http10BodyIsDelimitedByClose) {
  with_server([](std::uint16_t port, Counters&) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send("GET /few HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error();
    EXPECT_FALSE(r->header("Transfer-Encoding"));
    EXPECT_FALSE(r->header("Content-Length"));
    EXPECT_TRUE(r->connection_close());
    EXPECT_EQ(r->body, "one,two,three");
  });
}

TEST(HttpStream, HeadOfAStreamedRouteSendsNoBody) {
  with_server([](std::uint16_t port, Counters& k) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    std::string head = get_request("/big");
    head.replace(0, 3, "HEAD");
    ASSERT_TRUE(c.send(head + get_request("/few")));
    auto r = c.read_response(/*head_request=*/true);
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 200);
    auto next = c.read_response();
    ASSERT_TRUE(next) << c.error();
    EXPECT_EQ(next->body, "one,two,three");
    EXPECT_EQ(k.written.load(), 0) << "the producer of a HEAD response ran";
  });
}

// A client that resets mid-stream: see http_regression_test.cpp
// (ProducerIsCancelledWhenTheClientResets) — a write after the socket failed does not block the
// producer, which then spins.

}  // namespace
}  // namespace weft::itest
