// Graceful shutdown: close(deadline, done) closes idle connections at once, lets in-flight
// requests finish (with Connection: close), refuses new connections, runs done, and lets
// loop.run() return; past the deadline, what remains is closed by force.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

Ms since(Clock::time_point t0) { return std::chrono::duration_cast<Ms>(Clock::now() - t0); }

TEST(HttpShutdown, GracefulCloseFinishesInFlightRequests) {
  std::atomic<bool> done_ran{false};
  Loop loop;
  {
    http::Server server(loop);
    server.get("/plaintext", [](Request&) { return Response::text("ok"); });
    server.get("/slow", [](Request&) -> Task<Response> {
      co_await weft::sleep(std::chrono::milliseconds(200));
      co_return Response::text("slow done");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      RawClient idle = RawClient::tcp(port);
      ASSERT_TRUE(idle.ok());
      ASSERT_TRUE(idle.send(get_request("/plaintext")));
      ASSERT_TRUE(idle.read_response()) << idle.error();
      RawClient busy = RawClient::tcp(port);
      ASSERT_TRUE(busy.ok());
      ASSERT_TRUE(busy.send(get_request("/slow")));
      std::this_thread::sleep_for(50ms);  // the handler is sleeping now

      const auto t0 = Clock::now();
      loop.post([&] { server.close(std::chrono::seconds(2), [&] { done_ran = true; }); });
      EXPECT_EQ(idle.wait_closed(1000ms), CloseKind::eof);
      EXPECT_LT(since(t0), 500ms) << "the idle connection was not closed at once";
      EXPECT_EQ(idle.buffered(), "");

      RawClient late = RawClient::tcp(port, 0, 500ms);
      EXPECT_FALSE(late.ok());
      EXPECT_EQ(late.connect_errno(), ECONNREFUSED) << std::strerror(late.connect_errno());

      auto r = busy.read_response(false, 2000ms);
      ASSERT_TRUE(r) << busy.error();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "slow done");
      EXPECT_TRUE(r->connection_close());
      EXPECT_EQ(busy.wait_closed(1000ms), CloseKind::eof);
      EXPECT_LT(since(t0), 1500ms);

      const auto deadline = Clock::now() + 2s;
      while (!done_ran.load() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
      EXPECT_TRUE(done_ran.load());
    });
    EXPECT_EQ(server.stats().open_connections, 0u);
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_TRUE(done_ran.load());
}

TEST(HttpShutdown, ForcedCloseAtTheDeadline) {
  std::atomic<bool> done_ran{false};
  bool saw_cancelled = false;  // loop thread
  Loop loop;
  {
    http::Server server(loop);
    server.get("/sleep5", [&](Request& req) -> Task<Response> {
      co_await weft::sleep(std::chrono::seconds(5));
      saw_cancelled = req.cancelled();
      co_return Response::text("never sent");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    const auto loop_t0 = Clock::now();
    run_with_client(loop, server, [&] {
      RawClient c = RawClient::tcp(port);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(c.send(get_request("/sleep5")));
      std::this_thread::sleep_for(50ms);
      const auto t0 = Clock::now();
      loop.post([&] { server.close(std::chrono::milliseconds(100), [&] { done_ran = true; }); });
      EXPECT_NE(c.wait_closed(3000ms), CloseKind::timeout);
      const Ms elapsed = since(t0);
      EXPECT_GE(elapsed, 80ms);
      EXPECT_LE(elapsed, 1000ms);
      EXPECT_EQ(c.buffered(), "") << "a response was sent after all";
      const auto deadline = Clock::now() + 1s;
      while (!done_ran.load() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
      EXPECT_TRUE(done_ran.load()) << "done did not run once the connection was gone";
    });
    // loop.run() returned once the handler's 5 s sleep ended (a sleeping coroutine keeps
    // the loop alive, as a pending timer does in Node).
    EXPECT_LT(since(loop_t0), 15s);
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_TRUE(saw_cancelled);
}

TEST(HttpShutdown, CloseWithNothingOpenRunsDoneAndReturns) {
  bool done_ran = false;
  Loop loop;
  {
    http::Server server(loop);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    server.close(std::chrono::seconds(1), [&] { done_ran = true; });
    loop.run();
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_TRUE(done_ran);
}

}  // namespace
}  // namespace weft::itest
