// A server with several loops (ServerOptions::workers = 2) under observe::mount: every loop
// has its series (loop="N") beside the totals, and a handler that blocks loop 1 is
// reported by that loop's watchdog, with the loop's name and the route.
#include <weft/http/server.hpp>
#include <weft/observe/mount.hpp>

#include "integration/http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mutex>
#include <thread>

namespace weft::observe {
namespace {

using namespace std::chrono_literals;

std::string local_get(std::string_view path) {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

std::string body_of(std::uint16_t port, std::string_view path) {
  auto c = itest::RawClient::tcp(port);
  if (!c.send(local_get(path))) return "(send failed)";
  auto res = c.read_response();
  return res ? res->body : "(no response: " + c.error() + ")";
}

// Which loop answers is the kernel's choice (SO_REUSEPORT hashes each connection): new
// connections until loop 1 served one, with a bound.
bool reach_loop_one(std::uint16_t port, std::string_view path) {
  for (int i = 0; i < 200; ++i) {
    if (body_of(port, path) == "1") return true;
  }
  return false;
}

struct LogLines {
  std::mutex mu;
  std::vector<std::string> lines;
  void add(std::string_view l) {
    std::lock_guard lock(mu);
    lines.emplace_back(l);
  }
  bool contains(std::string_view text) {
    std::lock_guard lock(mu);
    for (const std::string& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

TEST(MultiLoopObserve, EveryLoopHasItsSeriesAndItsWatchdog) {
  Loop loop;
  http::ServerOptions options;
  options.workers = 2;
  http::Server server(loop, std::move(options));
  const Loop* loop0 = &loop;
  auto which = [loop0](const http::Request& req) { return &req.loop() == loop0 ? "0" : "1"; };
  server.get("/where", [which](http::Request& req) { return http::Response::text(which(req)); });
  server.get("/block", [which](http::Request& req) {
    if (which(req)[0] == '1') std::this_thread::sleep_for(500ms);  // blocks loop 1 only
    return http::Response::text(which(req));
  });
  LogLines log;
  MountOptions mo;
  mo.monitor.watchdog_options.threshold = 150ms;  // above what a sanitizer build's start-up takes
  mo.monitor.watchdog_options.log_sink = [&log](std::string_view l) { log.add(l); };
  auto obs = mount(server, std::move(mo));
  ASSERT_FALSE(server.listen(0));
  std::string metrics, stats;
  bool reached = false;
  itest::run_with_client(loop, server, [&] {
    reached = reach_loop_one(server.port(), "/where") && reach_loop_one(server.port(), "/block");
    std::this_thread::sleep_for(100ms);  // the stall's end is logged
    metrics = body_of(server.port(), "/_weft/metrics");
    stats = body_of(server.port(), "/_weft/stats");
  });
  obs.reset();
  loop.run();
  testing::expect_clean_close(loop);

  ASSERT_TRUE(reached) << "no connection reached loop 1 in 200 tries";
  EXPECT_NE(metrics.find("weft_loops 2\n"), std::string::npos) << metrics;
  for (const char* series :
       {"weft_loop_iterations_total{loop=\"0\"}", "weft_loop_iterations_total{loop=\"1\"}",
        "weft_loop_stalls_total{loop=\"1\"}", "weft_loop_lag_seconds_count{loop=\"1\"}",
        "weft_http_open_connections{loop=\"1\"}"}) {
    EXPECT_NE(metrics.find(series), std::string::npos) << series << "\n" << metrics;
  }
  EXPECT_EQ(metrics.find("weft_http_requests_total{method=\"GET\",loop=\"1\"} 0\n"),
            std::string::npos)
      << "loop 1 served GETs: its series counts them";
  // Only /block on loop 1 blocks for long; a slow start-up may add a stall of its own.
  EXPECT_TRUE(log.contains(" on loop 1: GET /block running for"));
  EXPECT_TRUE(log.contains(" on loop 1 ended after"));
  EXPECT_FALSE(log.contains("on loop 0: GET /block"));

  const auto j = nlohmann::json::parse(stats, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << stats;
  ASSERT_EQ(j["each_loop"].size(), 2u) << stats;
  EXPECT_EQ(j["each_loop"][1]["loop"], 1);
  EXPECT_GE(j["each_loop"][1]["http"]["requests"]["GET"].get<int>(), 2);
  EXPECT_GE(j["each_loop"][1]["stats"]["stalls"]["count"].get<int>(), 1);
  bool named = false;
  for (const auto& r : j["recent_stalls"]) {
    named |= r.value("loop", "") == "loop 1" && r.value("label", "") == "GET /block";
  }
  EXPECT_TRUE(named) << stats;
}

}  // namespace
}  // namespace weft::observe
