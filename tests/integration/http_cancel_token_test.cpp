// Request::cancel_token(): a client that goes away mid-request cancels the handler's
// token; an offloaded job sees this_job::stop_requested() and returns early, a sleep
// throws operation_canceled — within milliseconds of the disconnect.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/server.hpp>
#include <weft/task.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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
        co_await weft::offload([&probe] {
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
        }, req.cancel_token());
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
        while (!probe.job_started && SteadyClock::now() < deadline) std::this_thread::sleep_for(1ms);
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
      while ((probe.handler_saw_canceled < 1 || probe.sleep_saw_canceled < 1) && SteadyClock::now() < deadline) {
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
  EXPECT_LT(latency, 100ms) << "the job stopped "
                            << std::chrono::duration_cast<std::chrono::microseconds>(latency).count()
                            << " us after the disconnect";
  std::printf("[ info ] job stopped %lld us after the client's reset\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
}

}  // namespace
}  // namespace weft::itest
