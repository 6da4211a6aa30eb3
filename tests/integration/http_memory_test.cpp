// HttpMemory.*: what an idle keep-alive connection costs (no read buffer, no output
// buffer, no parser storage reserved up front), and the partial-message paths under the
// loop's shared read buffer: a request split across reads must survive other connections'
// reads into that buffer in between (head, body, pipelined tail, paused connection,
// coroutine handler).
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

void add_routes(http::Server& s) {
  s.get("/plaintext", [](Request&) { return Response::bytes("Hello, World!", "text/plain"); });
  // Echoes the path parameter and a header: views into the head must still be right.
  s.get("/v/:i", [](Request& req) {
    return Response::text(std::string(req.param("i")) + ":" + std::string(req.header("X-V")));
  });
  s.post("/echo",
         [](Request& req) { return Response::bytes(req.body(), "application/octet-stream"); });
  s.get("/later/:i", [](Request& req) -> Task<Response> {
    co_await weft::sleep(std::chrono::milliseconds(20));
    co_return Response::text(std::string(req.param("i")) + ":" + std::string(req.header("X-V")));
  });
}

void with_server(const std::function<void(std::uint16_t)>& client,
                 http::ServerOptions options = {}) {
  Loop loop;
  {
    http::Server server(loop, options);
    add_routes(server);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] { client(port); });
  }
  weft::testing::expect_clean_close(loop);
}

// Another connection's request and response, so the shared buffer is overwritten.
void other_traffic(std::uint16_t port) {
  RawClient b = RawClient::tcp(port);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b.send(get_request("/v/other", "X-V: " + std::string(3000, 'z') + "\r\n")));
  auto r = b.read_response();
  ASSERT_TRUE(r) << b.error();
  EXPECT_EQ(r->body.substr(0, 8), "other:zz");
}

void expect_body(RawClient& c, const std::string& want) {
  auto r = c.read_response();
  ASSERT_TRUE(r) << want << ": " << c.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, want);
}

TEST(HttpMemory, HeadSplitAcrossReadsSurvivesOtherConnections) {
  with_server([](std::uint16_t port) {
    RawClient a = RawClient::tcp(port);
    ASSERT_TRUE(a.ok());
    const std::string req = get_request("/v/split", "X-V: value-a\r\n");
    ASSERT_TRUE(a.send(req.substr(0, 20)));
    std::this_thread::sleep_for(20ms);
    other_traffic(port);
    ASSERT_TRUE(a.send(req.substr(20)));
    expect_body(a, "split:value-a");
  });
}

TEST(HttpMemory, BodySplitAcrossReadsSurvivesOtherConnections) {
  with_server([](std::uint16_t port) {
    RawClient a = RawClient::tcp(port);
    ASSERT_TRUE(a.ok());
    const std::string body(10000, 'b');
    const std::string req = post_request("/echo", body + "END");
    ASSERT_TRUE(a.send(req.substr(0, req.size() - 2000)));
    std::this_thread::sleep_for(20ms);
    other_traffic(port);
    ASSERT_TRUE(a.send(req.substr(req.size() - 2000)));
    expect_body(a, body + "END");
  });
}

TEST(HttpMemory, PipelinedRequestsWithAnIncompleteTail) {
  with_server([](std::uint16_t port) {
    RawClient a = RawClient::tcp(port);
    ASSERT_TRUE(a.ok());
    std::string batch;
    for (int i = 0; i < 4; ++i) {
      batch += get_request("/v/" + std::to_string(i), "X-V: p" + std::to_string(i) + "\r\n");
    }
    const std::string tail = get_request("/v/4", "X-V: tail\r\n");
    ASSERT_TRUE(a.send(batch + tail.substr(0, tail.size() - 9)));
    for (int i = 0; i < 4; ++i) expect_body(a, std::to_string(i) + ":p" + std::to_string(i));
    other_traffic(port);
    ASSERT_TRUE(a.send(tail.substr(tail.size() - 9)));
    expect_body(a, "4:tail");
  });
}

// max_pipelined coroutine requests pause reading with more requests (and a partial one)
// unconsumed; those wait in the connection's storage while others use the shared buffer.
TEST(HttpMemory, PausedConnectionKeepsItsUnreadRequests) {
  http::ServerOptions options;
  options.max_pipelined = 2;
  with_server(
      [](std::uint16_t port) {
        RawClient a = RawClient::tcp(port);
        ASSERT_TRUE(a.ok());
        std::string batch;
        for (int i = 0; i < 6; ++i) {
          batch +=
              get_request("/later/" + std::to_string(i), "X-V: q" + std::to_string(i) + "\r\n");
        }
        const std::string last = get_request("/v/6", "X-V: q6\r\n");
        ASSERT_TRUE(a.send(batch + last.substr(0, 10)));
        other_traffic(port);
        std::this_thread::sleep_for(30ms);
        other_traffic(port);
        ASSERT_TRUE(a.send(last.substr(10)));
        for (int i = 0; i < 7; ++i) expect_body(a, std::to_string(i) + ":q" + std::to_string(i));
      },
      options);
}

// A coroutine handler's request whose head came in two reads: the handler reads its
// views after other connections reused the shared buffer.
TEST(HttpMemory, CoroutineHandlerKeepsASplitRequest) {
  with_server([](std::uint16_t port) {
    RawClient a = RawClient::tcp(port);
    ASSERT_TRUE(a.ok());
    const std::string req = get_request("/later/co", "X-V: kept\r\n");
    ASSERT_TRUE(a.send(req.substr(0, 25)));
    std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(a.send(req.substr(25)));
    std::this_thread::sleep_for(5ms);
    other_traffic(port);  // while the handler sleeps
    expect_body(a, "co:kept");
  });
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_MALLOC_REPLACED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WEFT_MALLOC_REPLACED 1
#endif
#endif

// The heap an idle keep-alive connection holds after its request, measured on the loop
// thread (the main arena; the client thread allocates from its own). It is the connection
// object (~1.2 KiB, mostly its stream) and its peer address, nothing more: a 4 KiB read
// buffer, a parser and request of its own (~600 B; the loop lends them while a request is
// parsed), the parser's old 3 KiB of reserved fields, an empty std::deque (~600 B) or a
// write queue kept after a corked response (~260 B) would each break the bound.
// Parking is off.
TEST(HttpMemory, IdleKeepAliveConnectionHoldsNoBuffers) {
#ifdef WEFT_MALLOC_REPLACED
  GTEST_SKIP() << "the sanitizer's allocator does not report mallinfo2";
#else
  constexpr int kConns = 200;
  http::ServerOptions options;
  options.park_idle_after = Duration::max();
  Loop loop;
  std::atomic<std::size_t> before{0}, after{0};
  {
    http::Server server(loop, options);
    add_routes(server);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    auto heap_in_use = [&](std::atomic<std::size_t>& into) {
      std::atomic<bool> done{false};
      loop.post([&] {
        into = mallinfo2().uordblks;
        done = true;
      });
      while (!done) std::this_thread::sleep_for(1ms);
    };
    const std::string req = get_request("/plaintext", "User-Agent: t\r\nAccept: */*\r\n");
    run_with_client(loop, server, [&] {
      RawClient warm = RawClient::tcp(port);  // the loop's shared buffers exist from here on
      ASSERT_TRUE(warm.ok() && warm.send(req) && warm.read_response());
      std::vector<RawClient> clients;
      clients.reserve(kConns);
      heap_in_use(before);
      for (int i = 0; i < kConns; ++i) {
        clients.push_back(RawClient::tcp(port));
        ASSERT_TRUE(clients.back().ok() && clients.back().send(req));
        ASSERT_TRUE(clients.back().read_response()) << clients.back().error();
      }
      heap_in_use(after);
    });
  }
  weft::testing::expect_clean_close(loop);
  const double per_conn = (static_cast<double>(after) - static_cast<double>(before)) / kConns;
  std::printf("heap per idle keep-alive connection: %.0f bytes\n", per_conn);
  EXPECT_LT(per_conn, 1800.0);
#endif
}

}  // namespace
}  // namespace weft::itest
