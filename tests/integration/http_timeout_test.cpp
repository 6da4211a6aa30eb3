// Timeouts and per-connection limits, configured short: headers 200 ms, whole request
// 400 ms, keep-alive idle 200 ms (the sweep then runs every 50 ms).
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

http::ServerOptions short_timeouts() {
  http::ServerOptions o;
  o.headers_timeout = std::chrono::milliseconds(200);
  o.request_timeout = std::chrono::milliseconds(400);
  o.keep_alive_timeout = std::chrono::milliseconds(200);
  return o;
}

void with_server(const std::function<void(std::uint16_t)>& client,
                 http::ServerOptions options = short_timeouts()) {
  Loop loop;
  {
    http::Server server(loop, options);
    server.get("/plaintext", [](Request&) { return Response::text("hi"); });
    server.post("/echo", [](Request& req) { return Response::text(req.body()); });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] { client(port); });
  }
  weft::testing::expect_clean_close(loop);
}

Ms since(Clock::time_point t0) { return std::chrono::duration_cast<Ms>(Clock::now() - t0); }

TEST(HttpTimeouts, HalfAHeadGets408ThenClose) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send("GET /plaintext HTTP/1.1\r\nHost: t\r\n"));
    auto r = c.read_response(false, 3000ms);
    const Ms elapsed = since(t0);
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 408);
    EXPECT_TRUE(r->connection_close());
    EXPECT_GE(elapsed, 150ms);
    EXPECT_LE(elapsed, 2000ms);
    EXPECT_NE(c.wait_closed(), CloseKind::timeout);
  });
}

TEST(HttpTimeouts, HeadersTimeoutAppliesToTheSecondRequestToo) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send(get_request("/plaintext")));
    ASSERT_TRUE(c.read_response()) << c.error();
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send("GET /plaintext HTTP/1.1\r\n"));
    auto r = c.read_response(false, 3000ms);
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 408);
    EXPECT_GE(since(t0), 150ms);
    EXPECT_NE(c.wait_closed(), CloseKind::timeout);
  });
}

TEST(HttpTimeouts, BodyThatNeverFinishesGets408) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789"));
    // keep trickling (not enough to finish): the request timeout is first byte → end of body
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(c.send("abc"));
    auto r = c.read_response(false, 3000ms);
    const Ms elapsed = since(t0);
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 408);
    EXPECT_TRUE(r->connection_close());
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LE(elapsed, 2000ms);
    EXPECT_NE(c.wait_closed(), CloseKind::timeout);
  });
}

TEST(HttpTimeouts, IdleKeepAliveConnectionIsClosed) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send(get_request("/plaintext")));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error();
    EXPECT_FALSE(r->connection_close());
    const auto t0 = Clock::now();
    EXPECT_EQ(c.wait_closed(3000ms), CloseKind::eof);
    const Ms elapsed = since(t0);
    EXPECT_GE(elapsed, 150ms);
    EXPECT_LE(elapsed, 2000ms);
    EXPECT_EQ(c.buffered(), "") << "nothing is sent on an idle close";
  });
}

TEST(HttpTimeouts, ActivityKeepsAConnectionOpen) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    for (int i = 0; i < 8; ++i) {  // 8 × 100 ms: longer than every timeout
      ASSERT_TRUE(c.send(get_request("/plaintext"))) << i;
      auto r = c.read_response();
      ASSERT_TRUE(r) << i << ": " << c.error();
      EXPECT_EQ(r->status, 200);
      std::this_thread::sleep_for(100ms);
    }
  });
}

TEST(HttpTimeouts, MaxRequestsPerConnection) {
  http::ServerOptions o = short_timeouts();
  o.keep_alive_timeout = std::chrono::seconds(5);
  o.max_requests_per_connection = 3;
  with_server(
      [](std::uint16_t port) {
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.ok());
        for (int i = 1; i <= 3; ++i) {
          ASSERT_TRUE(c.send(get_request("/plaintext")));
          auto r = c.read_response();
          ASSERT_TRUE(r) << i << ": " << c.error();
          EXPECT_EQ(r->status, 200);
          EXPECT_EQ(r->connection_close(), i == 3) << "response " << i;
        }
        EXPECT_EQ(c.wait_closed(), CloseKind::eof);

        // pipelined: five requests, three answers, then the close
        RawClient p = RawClient::tcp(port);
        ASSERT_TRUE(p.ok());
        std::string five;
        for (int i = 0; i < 5; ++i) five += get_request("/plaintext");
        ASSERT_TRUE(p.send(five));
        for (int i = 1; i <= 3; ++i) {
          auto r = p.read_response();
          ASSERT_TRUE(r) << i << ": " << p.error();
          EXPECT_EQ(r->connection_close(), i == 3);
        }
        EXPECT_NE(p.wait_closed(), CloseKind::timeout);
        EXPECT_EQ(p.buffered(), "");
      },
      o);
}

}  // namespace
}  // namespace weft::itest
