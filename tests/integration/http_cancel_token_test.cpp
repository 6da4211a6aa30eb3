// Request::cancel_token(): a client that goes away mid-request cancels the handler's
// token; an offloaded job sees this_job::stop_requested() and returns early, a sleep
// throws operation_canceled, a database query is interrupted — within milliseconds of
// the disconnect.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/db/database.hpp>
#include <weft/http/server.hpp>
#include <weft/task.hpp>

#include <gtest/gtest.h>

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;
using SteadyClock = std::chrono::steady_clock;

struct Probe {
  std::atomic<bool> job_started{false}, job_stopped_early{false};
  std::atomic<SteadyClock::rep> job_stopped_at{0};
  std::atomic<int> handler_saw_canceled{0};
  std::atomic<int> sleep_saw_canceled{0};
};

SteadyClock::rep now_ticks() { return SteadyClock::now().time_since_epoch().count(); }

TEST(HttpCancelToken, ClientDisconnectStopsAnOffloadedJobAndASleep) {
  Probe probe;
  Loop loop;
  SteadyClock::rep reset_at = 0;
  {
    http::Server server(loop);
    server.get("/compute", [&probe](Request& req) -> Task<Response> {
      try {
        co_await weft::offload(
            [&probe] {
              probe.job_started = true;
              const auto until = SteadyClock::now() + 10s;
              while (SteadyClock::now() < until) {
                if (weft::this_job::stop_requested()) {
                  probe.job_stopped_at = now_ticks();
                  probe.job_stopped_early = true;
                  return 0;
                }
              }
              return 1;
            },
            req.cancel_token());
      } catch (const std::system_error& e) {
        if (e.code() == std::errc::operation_canceled) probe.handler_saw_canceled.fetch_add(1);
      }
      co_return Response::text("too late");
    });
    server.get("/wait", [&probe](Request& req) -> Task<Response> {
      try {
        co_await weft::sleep(10s, req.cancel_token());
      } catch (const std::system_error& e) {
        if (e.code() == std::errc::operation_canceled) probe.sleep_saw_canceled.fetch_add(1);
      }
      co_return Response::text("too late");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      {
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(c.send(get_request("/compute")));
        const auto deadline = SteadyClock::now() + 3s;
        while (!probe.job_started && SteadyClock::now() < deadline)
          std::this_thread::sleep_for(1ms);
        reset_at = now_ticks();
        c.reset();
      }
      {
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(c.send(get_request("/wait")));
        std::this_thread::sleep_for(20ms);
        c.reset();  // (a FIN alone is a half-close: the server still answers)
      }
      const auto deadline = SteadyClock::now() + 3s;
      while ((probe.handler_saw_canceled < 1 || probe.sleep_saw_canceled < 1) &&
             SteadyClock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_LT(SteadyClock::now() - SteadyClock::time_point(SteadyClock::duration(reset_at)), 2s);
  EXPECT_TRUE(probe.job_stopped_early);
  EXPECT_EQ(probe.handler_saw_canceled, 1);
  EXPECT_EQ(probe.sleep_saw_canceled, 1);
  const auto latency = SteadyClock::duration(probe.job_stopped_at - reset_at);
  EXPECT_LT(latency, 100ms)
      << "the job stopped "
      << std::chrono::duration_cast<std::chrono::microseconds>(latency).count()
      << " us after the disconnect";
  std::printf("[ info ] job stopped %lld us after the client's reset\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
}

// A handler awaiting a SQLite query (a recursive CTE that would run for minutes) with the
// request's token: the client's reset interrupts the statement on its pool thread
// (sqlite3_interrupt), the handler sees operation_canceled, and the database answers the
// next statement and closes at once (close() waits for statements in flight).
TEST(HttpCancelToken, ClientDisconnectInterruptsADatabaseQuery) {
  char tmpl[] = "/tmp/weft-http-db-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::atomic<bool> query_started{false};
  std::atomic<int> handler_saw_canceled{0};
  std::atomic<SteadyClock::rep> canceled_at{0};
  SteadyClock::rep reset_at = 0;
  Loop loop;
  {
    std::unique_ptr<db::Database> database;
    try {
      database = db::open(loop, "sqlite:" + dir + "/t.db");
    } catch (const db::Error& e) {
      std::filesystem::remove_all(dir);
      GTEST_SKIP() << "no SQLite backend in this build: " << e.what();
    }
    http::Server server(loop);
    server.get("/report", [&](Request& req) -> Task<Response> {
      query_started = true;
      try {
        co_await database->query(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 4000000000) "
            "SELECT count(*) FROM c",
            {}, req.cancel_token());
      } catch (const std::system_error& e) {
        if (e.code() == std::errc::operation_canceled) {
          canceled_at = now_ticks();
          handler_saw_canceled.fetch_add(1);
        }
      }
      co_return Response::text("too late");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      RawClient c = RawClient::tcp(port);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(c.send(get_request("/report")));
      const auto deadline = SteadyClock::now() + 3s;
      while (!query_started && SteadyClock::now() < deadline) std::this_thread::sleep_for(1ms);
      std::this_thread::sleep_for(100ms);  // the statement runs on a reader by now
      reset_at = now_ticks();
      c.reset();
      while (handler_saw_canceled < 1 && SteadyClock::now() < deadline + 3s)
        std::this_thread::sleep_for(1ms);
    });
    std::int64_t answer = 0;
    run_until_complete(loop, [&]() -> Task<void> {
      db::ResultSet rs = co_await database->query("SELECT 6 * 7 AS after_the_interrupt");
      answer = rs.rows.at(0)[0].as_int();
      co_await database->close();
    }());
    EXPECT_EQ(answer, 42);
  }
  weft::testing::expect_clean_close(loop);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(handler_saw_canceled, 1);
  const auto latency = SteadyClock::duration(canceled_at - reset_at);
  EXPECT_LT(latency, 1s);
  std::printf("[ info ] query interrupted, handler resumed %lld us after the client's reset\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
}

}  // namespace
}  // namespace weft::itest
