// The watchdog against a real HTTP server: a handler that burns 300 ms of CPU is reported
// with its route and a stack naming the handler's function; a normal run reports nothing.
#include <weft/http/server.hpp>
#include <weft/observe/watchdog.hpp>
#include <weft/pool.hpp>
#include <weft/timer.hpp>

#include "integration/http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

// External linkage and noinline: the symbol must be in the stack, and exported
// (-rdynamic) so dladdr can name it.
__attribute__((noinline)) void weft_test_burn_cpu_in_handler(std::chrono::milliseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  volatile std::uint64_t x = 0;
  while (std::chrono::steady_clock::now() < end) x = x + 1;
}

namespace weft::observe {
namespace {

using namespace std::chrono_literals;

struct CapturedLog {
  std::mutex mu;
  std::vector<std::string> lines;
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view l) {
      std::lock_guard lock(mu);
      lines.emplace_back(l);
    };
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mu);
    return lines;
  }
};

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

TEST(Watchdog, ReportsABurningHandlerWithRouteAndStack) {
  Loop loop;
  http::Server server(loop);
  server.get("/burn/:n", [](http::Request&) {
    weft_test_burn_cpu_in_handler(300ms);
    return http::Response::text("done");
  });
  ASSERT_FALSE(server.listen(0));
  CapturedLog log;
  WatchdogOptions options;  // default threshold: 100 ms
  options.log_sink = log.sink();
  Watchdog watchdog(loop, options);
  itest::run_with_client(loop, server, [&] {
    auto c = itest::RawClient::tcp(server.port());
    ASSERT_TRUE(c.send(itest::get_request("/burn/1")));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.error();
    EXPECT_EQ(res->status, 200);
    // The watchdog notices the end on its next check (slow under sanitizers).
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (watchdog.counters().stalled_now && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(10ms);
    }
  });
  const std::vector<StallReport> reports = watchdog.recent();
  const std::vector<std::string> lines = log.take();
  if (std::getenv("WEFT_TEST_VERBOSE")) std::fprintf(stderr, "%s", joined(lines).c_str());
  ASSERT_EQ(reports.size(), 1u) << joined(lines);
  const StallReport& r = reports[0];
  EXPECT_EQ(r.kind, StallReport::Kind::loop_callback);
  EXPECT_EQ(r.label, "GET /burn/:n");
  EXPECT_FALSE(r.ongoing);
  EXPECT_GE(r.duration, 200ms);
  EXPECT_LE(r.duration, 2000ms);
  bool found = false;
  for (const auto& frame : r.stack)
    found = found || frame.find("weft_test_burn_cpu_in_handler") != std::string::npos;
  EXPECT_TRUE(found) << "stack:\n" << joined(r.stack);
  WatchdogCounters n = watchdog.counters();
  EXPECT_EQ(n.loop_stalls, 1u);
  EXPECT_FALSE(n.stalled_now);
  EXPECT_GE(n.loop_stall_ns, 200'000'000u);
  ASSERT_EQ(lines.size(), 2u) << joined(lines);
  EXPECT_NE(lines[0].find("loop stall #1: GET /burn/:n running for"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("weft_test_burn_cpu_in_handler"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("loop stall #1 ended after"), std::string::npos) << lines[1];
  testing::expect_clean_close(loop);
}

// Internal linkage: not in the dynamic symbol table, so dladdr finds no name for it.
[[gnu::noinline]] static void burn_in_unexported_function(std::chrono::milliseconds d) {
  weft_test_burn_cpu_in_handler(d);
  std::atomic_signal_fence(std::memory_order_seq_cst);  // keeps this frame (no tail call)
}

// Stacks are published (JSON stats, SSE, the dashboard): a frame is "module+0xoffset",
// with "symbol+0xoff (module+0xoffset)" when the symbol is known, and never an absolute
// address or a path, which would give away the process's memory layout (ASLR).
TEST(Watchdog, StackFramesCarryModuleOffsetsNotAddresses) {
  Loop loop;
  CapturedLog log;
  WatchdogOptions options;
  options.log_sink = log.sink();
  options.threshold = 50ms;
  options.max_frames = 128;  // down to main() and libc's start
  Watchdog watchdog(loop, options);
  Timer t(loop);
  t.start([] { burn_in_unexported_function(200ms); }, 1ms);
  loop.run();
  t.close();
  loop.run();
  const auto reports = watchdog.recent();
  ASSERT_EQ(reports.size(), 1u) << joined(log.take());
  const std::vector<std::string>& stack = reports[0].stack;
  ASSERT_GT(stack.size(), 3u);
  bool named = false, unnamed_in_test = false;
  for (const std::string& frame : stack) {
    EXPECT_EQ(frame.find('/'), std::string::npos) << "a path in " << frame;
    EXPECT_EQ(frame.find('['), std::string::npos) << "an address in " << frame;
    // Every hexadecimal number is an offset within an object, far below where Linux maps
    // anything in a PIE process (0x55..., 0x7f...).
    for (std::size_t at = frame.find("0x"); at != std::string::npos;
         at = frame.find("0x", at + 2)) {
      const unsigned long long v = std::strtoull(frame.c_str() + at + 2, nullptr, 16);
      EXPECT_LT(v, 1ull << 40) << "an absolute address in " << frame;
    }
    named = named || (frame.starts_with("weft_test_burn_cpu_in_handler") &&
                      frame.find("(observe_tests+0x") != std::string::npos);
    unnamed_in_test = unnamed_in_test || frame.starts_with("observe_tests+0x");
  }
  EXPECT_TRUE(named) << joined(stack);
  EXPECT_TRUE(unnamed_in_test) << "the unexported function's frame\n" << joined(stack);
  testing::expect_clean_close(loop);
}

// The descriptors in a thread's table (Linux: /proc/self/task/TID/fd).
std::set<int> thread_fds(const std::string& tid) {
  std::set<int> fds;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task/" + tid + "/fd")) {
    fds.insert(std::stoi(e.path().filename().string()));
  }
  return fds;
}

std::string watchdog_tid() {
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(e.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name == "weft-watchdog") return e.path().filename().string();
  }
  return {};
}

// With the default sink the watchdog thread has a table of its own, without the loop's
// descriptors, and a descriptor closed afterwards is really closed (the peer sees EOF). With
// a log_sink it shares the table.
TEST(Watchdog, UsesItsOwnDescriptorTableUnlessALogSinkIsSet) {
  Loop loop;
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  {
    Watchdog watchdog(loop, WatchdogOptions{});
    const std::string tid = watchdog_tid();
    ASSERT_FALSE(tid.empty());
    const std::set<int> own = thread_fds(tid);
    EXPECT_FALSE(own.count(pair[0]) || own.count(pair[1]));
    EXPECT_TRUE(thread_fds(std::to_string(::gettid())).count(pair[0]));
    ::close(pair[0]);
    pollfd p{pair[1], POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    char c;
    EXPECT_EQ(::read(pair[1], &c, 1), 0);  // EOF: no copy kept the other end open
    ::close(pair[1]);
  }
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  {
    CapturedLog log;
    WatchdogOptions options;
    options.log_sink = log.sink();
    Watchdog watchdog(loop, options);
    EXPECT_TRUE(thread_fds(watchdog_tid()).count(pair[0]));
  }
  ::close(pair[0]);
  ::close(pair[1]);
  testing::expect_clean_close(loop);
}

TEST(Watchdog, ANormalRunReportsNothing) {
  Loop loop;
  http::Server server(loop);
  server.get("/plaintext", [](http::Request&) { return http::Response::text("Hello"); });
  ASSERT_FALSE(server.listen(0));
  CapturedLog log;
  WatchdogOptions options;
  options.log_sink = log.sink();
  options.job_threshold = 1s;
  Watchdog watchdog(loop, options);
  Timer ticker(loop);  // a timer with short callbacks alongside
  int ticks = 0;
  ticker.start([&] { ++ticks; }, 5ms, 5ms);
  itest::run_with_client(loop, server, [&] {
    auto c = itest::RawClient::tcp(server.port());
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(c.send(itest::get_request("/plaintext")));
      auto res = c.read_response();
      ASSERT_TRUE(res) << c.error();
      if (i % 10 == 0) std::this_thread::sleep_for(30ms);
    }
    loop.post([&] { ticker.close(); });
  });
  EXPECT_GT(ticks, 0);
  EXPECT_TRUE(watchdog.recent().empty());
  EXPECT_EQ(watchdog.counters().loop_stalls, 0u);
  EXPECT_TRUE(log.take().empty()) << joined(log.take());
  testing::expect_clean_close(loop);
}

TEST(Watchdog, ReportsALongPoolJob) {
  Loop loop;
  CapturedLog log;
  WatchdogOptions options;
  options.log_sink = log.sink();
  options.job_threshold = 100ms;
  Watchdog watchdog(loop, options);
  bool done = false;
  ASSERT_FALSE(queue_work(
      loop, WorkClass::slow, [] { std::this_thread::sleep_for(300ms); },
      [&](auto&) { done = true; }, nullptr, "test long job"));
  loop.run();
  EXPECT_TRUE(done);
  std::this_thread::sleep_for(100ms);  // the job's end is noticed on the next check
  const std::vector<StallReport> reports = watchdog.recent();
  ASSERT_EQ(reports.size(), 1u) << joined(log.take());
  EXPECT_EQ(reports[0].kind, StallReport::Kind::pool_job);
  EXPECT_EQ(reports[0].label, "test long job");
  EXPECT_EQ(reports[0].work_class, WorkClass::slow);
  EXPECT_EQ(watchdog.counters().slow_jobs, 1u);
  EXPECT_EQ(watchdog.counters().loop_stalls, 0u);
  const auto lines = log.take();
  ASSERT_EQ(lines.size(), 2u) << joined(lines);
  EXPECT_NE(lines[0].find("pool job #1 (slow) test long job running for"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("pool job #1 ended after about"), std::string::npos) << lines[1];
  testing::expect_clean_close(loop);
}

// A stalled timer callback is labelled with the timer's label.
TEST(Watchdog, LabelsTimerCallbacks) {
  Loop loop;
  CapturedLog log;
  WatchdogOptions options;
  options.log_sink = log.sink();
  options.threshold = 50ms;
  Watchdog watchdog(loop, options);
  Timer t(loop);
  t.set_label("report generator");
  t.start([] { weft_test_burn_cpu_in_handler(150ms); }, 1ms);
  Timer after(loop);  // keeps the loop running so the end is seen
  after.start([] {}, 300ms);
  loop.run();
  t.close();
  after.close();
  loop.run();
  auto reports = watchdog.recent();
  ASSERT_EQ(reports.size(), 1u) << joined(log.take());
  EXPECT_EQ(reports[0].label, "report generator");
  EXPECT_FALSE(reports[0].ongoing);
  testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::observe
