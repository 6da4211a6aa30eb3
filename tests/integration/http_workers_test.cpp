// Many loops (ServerOptions::workers > 1): connections spread over several loop threads
// sharing one route table and one Runtime; each connection stays on its loop (ordered
// keep-alive and pipelining); a blocked loop does not stop the others; close() and the
// destructor stop every loop; port 0 gives every listener the same port; static_files is
// safe to share; listen() reports an extra loop's failure.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/server.hpp>
#include <weft/http/static_files.hpp>
#include <weft/net/listener.hpp>

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

http::ServerOptions workers_options(unsigned n) {
  http::ServerOptions o;
  o.workers = n;
  return o;
}

std::string thread_name() {
  std::ostringstream s;
  s << std::this_thread::get_id();
  return s.str();
}

// The threads that ran handlers (any loop thread may write; the test thread reads).
class ThreadLog {
 public:
  void add(const std::string& t) {
    std::lock_guard lock(mu_);
    threads_.insert(t);
  }
  std::size_t count() const {
    std::lock_guard lock(mu_);
    return threads_.size();
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> threads_;
};

// Routes every test uses: /who answers with its thread (and checks req.loop() is the
// loop running it); /async does the same after a suspension, which must resume there.
void add_who_routes(http::Server& server, ThreadLog& log) {
  server.get("/who", [&log](Request& req) {
    const std::string t = thread_name();
    log.add(t);
    Response r = Response::text(std::string(req.raw_query("i")));
    r.header("X-Thread", t);
    r.header("X-Own-Loop", &req.loop() == Loop::current() ? "yes" : "no");
    return r;
  });
  server.get("/async", [&log](Request& req) -> Task<Response> {
    const std::string before = thread_name();
    co_await weft::sleep(std::chrono::milliseconds(1));
    const std::string after = thread_name();
    log.add(after);
    Response r = Response::text(std::string(req.raw_query("i")));
    r.header("X-Thread", after);
    r.header("X-Own-Loop", before == after && &req.loop() == Loop::current() ? "yes" : "no");
    co_return r;
  });
}

// Opens `conns` connections; on each pipelines `per_conn` requests (alternating sync and
// coroutine handlers) and checks the answers come in order, all from one thread, each on
// its own loop. Returns the number of distinct threads that answered.
std::size_t pipeline_over_connections(std::uint16_t port, int conns, int per_conn) {
  std::set<std::string> threads;
  std::vector<RawClient> clients;
  for (int c = 0; c < conns; ++c) {
    clients.push_back(RawClient::tcp(port));
    EXPECT_TRUE(clients.back().ok());
    std::string batch;
    for (int i = 0; i < per_conn; ++i) {
      batch += get_request((i % 2 ? "/async?i=" : "/who?i=") + std::to_string(c * 1000 + i));
    }
    EXPECT_TRUE(clients.back().send(batch));
  }
  for (int c = 0; c < conns; ++c) {
    std::optional<std::string> conn_thread;
    for (int i = 0; i < per_conn; ++i) {
      auto r = clients[c].read_response();
      if (!r) {
        ADD_FAILURE() << "connection " << c << " response " << i << ": " << clients[c].error();
        return threads.size();
      }
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, std::to_string(c * 1000 + i)) << "out of order";
      EXPECT_EQ(r->header("X-Own-Loop"), "yes");
      const std::string t = r->header("X-Thread").value_or("");
      if (!conn_thread) conn_thread = t;
      EXPECT_EQ(t, *conn_thread) << "a connection moved between loops";
      threads.insert(t);
    }
  }
  return threads.size();
}

void serve_many_connections(unsigned workers) {
  ThreadLog log;
  Loop loop;
  {
    http::ServerOptions options;
    options.workers = workers;
    http::Server server(loop, options);
    EXPECT_EQ(server.workers(), workers);
    add_who_routes(server, log);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    ASSERT_NE(port, 0);
    std::size_t answered_by = 0;
    run_with_client(loop, server, [&] { answered_by = pipeline_over_connections(port, 32, 8); });
    // 32 connections hashed over `workers` listeners: all on one loop has odds 2^-31 at most.
    EXPECT_GT(answered_by, 1u);
    EXPECT_LE(answered_by, workers);
    EXPECT_EQ(log.count(), answered_by);
    const http::ServerStats s = server.stats();
    EXPECT_EQ(s.connections_accepted, 32u);
    EXPECT_EQ(s.requests, 32u * 8u);
    EXPECT_EQ(s.open_connections, 0u);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(HttpWorkers, TwoLoopsServeManyConnectionsInOrder) { serve_many_connections(2); }
TEST(HttpWorkers, FourLoopsServeManyConnectionsInOrder) { serve_many_connections(4); }

TEST(HttpWorkers, ZeroWorkersMeansOnePerCore) {
  Loop loop;
  {
    http::ServerOptions options;
    options.workers = 0;
    http::Server server(loop, options);
    EXPECT_EQ(server.workers(), std::max(1u, std::thread::hardware_concurrency()));
  }
  weft::testing::expect_clean_close(loop);
}

// Port 0: loop 0 picks the port and the others bind to it, so a fixed port works too —
// a second server on a port the first one got (without SO_REUSEPORT on the first) fails.
TEST(HttpWorkers, PortZeroGivesEveryLoopTheSamePort) {
  ThreadLog log;
  Loop loop;
  {
    http::ServerOptions options;
    options.workers = 3;
    http::Server server(loop, options);
    add_who_routes(server, log);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    EXPECT_EQ(server.listen(0, "127.0.0.1"), std::errc::already_connected);
    EXPECT_EQ(server.port(), port);
    EXPECT_THROW(server.get("/late", [](Request&) { return Response::text("x"); }),
                 std::logic_error);
    net::Listener probe(loop);
    EXPECT_EQ(probe.listen(*net::SocketAddress::parse("127.0.0.1", port), [](net::Socket) {}),
              std::errc::address_in_use)
        << "without SO_REUSEPORT a bind to the server's port must fail";
    probe.close();
    std::size_t answered_by = 0;
    run_with_client(loop, server, [&] { answered_by = pipeline_over_connections(port, 24, 2); });
    EXPECT_GT(answered_by, 1u) << "only one listener got connections on the port";
  }
  weft::testing::expect_clean_close(loop);
}

// A handler blocking one loop for 300 ms: connections on the other loop are still served.
TEST(HttpWorkers, ABlockedLoopDoesNotStopTheOthers) {
  std::atomic<bool> blocking{false};
  std::mutex mu;
  std::string blocked_thread;
  ThreadLog log;
  Loop loop;
  {
    http::ServerOptions options;
    options.workers = 2;
    http::Server server(loop, options);
    add_who_routes(server, log);
    server.get("/block", [&](Request&) {
      {
        std::lock_guard lock(mu);
        blocked_thread = thread_name();
      }
      blocking = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // blocks this loop
      return Response::text("unblocked");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      RawClient blocker = RawClient::tcp(port);
      ASSERT_TRUE(blocker.send(get_request("/block")));
      const auto t0 = Clock::now();
      while (!blocking && Clock::now() - t0 < 2s) std::this_thread::sleep_for(1ms);
      ASSERT_TRUE(blocking.load());
      const auto blocked_at = Clock::now();
      std::vector<RawClient> others;
      for (int i = 0; i < 16; ++i) {
        others.push_back(RawClient::tcp(port));
        ASSERT_TRUE(others.back().send(get_request("/who?i=" + std::to_string(i))));
      }
      // Answers that arrive while the other loop is blocked come from this loop.
      int fast = 0;
      std::vector<bool> answered(others.size(), false);
      for (std::size_t i = 0; i < others.size(); ++i) {
        // A short wait each: a connection on the blocked loop must not eat the budget.
        const auto left = 250ms - std::chrono::duration_cast<Ms>(Clock::now() - blocked_at);
        if (left <= 0ms) break;
        if (auto r = others[i].read_response(false, std::min<Ms>(left, 10ms))) {
          answered[i] = true;
          std::lock_guard lock(mu);
          EXPECT_NE(r->header("X-Thread").value_or(""), blocked_thread);
          ++fast;
        }
      }
      EXPECT_LT(Clock::now() - blocked_at, 290ms) << "the check ran past the block";
      EXPECT_GT(fast, 0) << "no connection was answered while one loop was blocked";
      auto b = blocker.read_response(false, 2000ms);
      ASSERT_TRUE(b) << blocker.error();
      EXPECT_EQ(b->body, "unblocked");
      for (std::size_t i = 0; i < others.size(); ++i) {  // the blocked loop's ones too
        if (!answered[i]) {
          EXPECT_TRUE(others[i].read_response(false, 2000ms)) << others[i].error();
        }
      }
    });
  }
  weft::testing::expect_clean_close(loop);
}

// close() with requests in flight on both loops: each finishes with Connection: close,
// new connections are refused, done runs once, after every loop finished.
TEST(HttpWorkers, GracefulCloseWithRequestsInFlightOnEveryLoop) {
  std::atomic<int> started{0};
  std::atomic<int> done_runs{0};
  ThreadLog started_on;
  Loop loop;
  {
    http::ServerOptions options;
    options.workers = 2;
    http::Server server(loop, options);
    server.get("/slow", [&](Request&) -> Task<Response> {
      started_on.add(thread_name());
      ++started;
      co_await weft::sleep(std::chrono::milliseconds(200));
      co_return Response::text("slow done");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      constexpr int kConns = 16;
      std::vector<RawClient> clients;
      for (int i = 0; i < kConns; ++i) {
        clients.push_back(RawClient::tcp(port));
        ASSERT_TRUE(clients.back().send(get_request("/slow")));
      }
      const auto t0 = Clock::now();
      while (started < kConns && Clock::now() - t0 < 2s) std::this_thread::sleep_for(1ms);
      ASSERT_EQ(started.load(), kConns);
      EXPECT_EQ(started_on.count(), 2u) << "16 connections all on one loop (odds 2^-15)";
      loop.post([&] { server.close(std::chrono::seconds(5), [&] { ++done_runs; }); });
      for (auto& c : clients) {
        auto r = c.read_response(false, 2000ms);
        ASSERT_TRUE(r) << c.error();
        EXPECT_EQ(r->body, "slow done");
        EXPECT_TRUE(r->connection_close());
        EXPECT_EQ(c.wait_closed(1000ms), CloseKind::eof);
      }
      EXPECT_LT(Clock::now() - t0, 1500ms);
      RawClient late = RawClient::tcp(port, 0, 500ms);
      EXPECT_FALSE(late.ok()) << "a loop still accepts after close()";
    });
    EXPECT_EQ(done_runs.load(), 1);
    EXPECT_EQ(server.stats().open_connections, 0u);
    EXPECT_EQ(server.stats().requests, 16u);
    EXPECT_TRUE(server.is_closing());
  }
  weft::testing::expect_clean_close(loop);
}

// The deadline bounds close(): a handler that never finishes on an extra loop is cut off
// there and that loop is stopped, so done runs and loop 0's run() returns. (Loop 0 itself
// is the caller's: its handlers are answered at once here, as with one loop it would be
// the caller's business to end what they left running.)
TEST(HttpWorkers, CloseDeadlineCutsOffAStuckHandlerOnAnExtraLoop) {
  std::atomic<int> started{0};
  std::atomic<int> stuck{0};
  std::atomic<bool> done_ran{false};
  Loop loop;
  {
    http::Server server(loop, workers_options(2));
    server.get("/forever", [&](Request& req) -> Task<Response> {
      ++started;
      if (&req.loop() != &loop) {
        ++stuck;
        co_await weft::sleep(std::chrono::seconds(30));
      }
      co_return Response::text("answered");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    const auto t0 = Clock::now();
    run_with_client(loop, server, [&] {
      std::vector<RawClient> clients;
      for (int i = 0; i < 16; ++i) {
        clients.push_back(RawClient::tcp(port));
        ASSERT_TRUE(clients.back().send(get_request("/forever")));
      }
      const auto start = Clock::now();
      while (started < 16 && Clock::now() - start < 2s) std::this_thread::sleep_for(1ms);
      EXPECT_GT(stuck.load(), 0) << "16 connections all on loop 0 (odds 2^-16)";
      loop.post([&] { server.close(std::chrono::milliseconds(200), [&] { done_ran = true; }); });
      for (auto& c : clients) EXPECT_NE(c.wait_closed(2000ms), CloseKind::timeout);
    });
    EXPECT_TRUE(done_ran.load());
    EXPECT_LT(Clock::now() - t0, 5s) << "the stuck extra loop was not stopped at the deadline";
  }
  weft::testing::expect_clean_close(loop);
}

// Destroying the server with connections open on every loop (one request in flight):
// everything closes at once, ASan sees no use after free.
TEST(HttpWorkers, DestroyWithConnectionsOpen) {
  std::atomic<int> started{0};
  ThreadLog log;
  Loop loop;
  auto server = std::make_unique<http::Server>(loop, workers_options(4));
  add_who_routes(*server, log);
  server->get("/slow", [&](Request&) -> Task<Response> {
    ++started;
    co_await weft::sleep(std::chrono::milliseconds(300));
    co_return Response::text("late");
  });
  ASSERT_FALSE(server->listen(0, "127.0.0.1"));
  const std::uint16_t port = server->port();
  std::atomic<bool> destroyed{false};
  std::thread client([&] {
    std::vector<RawClient> clients;
    for (int i = 0; i < 12; ++i) {
      clients.push_back(RawClient::tcp(port));
      EXPECT_TRUE(clients.back().send(get_request(i % 3 ? "/who" : "/slow")));
      if (i % 3) {
        EXPECT_TRUE(clients.back().read_response()) << clients.back().error();
      }
    }
    const auto t0 = Clock::now();
    while (started < 4 && Clock::now() - t0 < 2s) std::this_thread::sleep_for(1ms);
    loop.post([&] {
      server.reset();
      destroyed = true;
    });
    for (auto& c : clients) EXPECT_NE(c.wait_closed(2000ms), CloseKind::timeout);
  });
  loop.run();
  client.join();
  EXPECT_TRUE(destroyed.load());
  weft::testing::expect_clean_close(loop);
}

// max_connections counts the connections of every loop together.
TEST(HttpWorkers, MaxConnectionsCountsOverAllLoops) {
  ThreadLog log;
  Loop loop;
  {
    http::ServerOptions options = workers_options(2);
    options.max_connections = 4;
    http::Server server(loop, options);
    add_who_routes(server, log);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      std::vector<RawClient> held;
      for (int i = 0; i < 8; ++i) {  // one after the other: each accept is counted first
        held.push_back(RawClient::tcp(port));
        ASSERT_TRUE(held.back().send(get_request("/who")));
        auto r = held.back().read_response(false, 1000ms);
        ASSERT_TRUE(r.has_value()) << "connection " << i;
        EXPECT_EQ(r->status, i < 4 ? 200 : 503) << "connection " << i;  // 503: over the limit
      }
    });
    EXPECT_GT(log.count(), 0u);
    EXPECT_EQ(server.stats().connections_accepted, 4u);
    EXPECT_EQ(server.stats().connections_rejected, 4u);
  }
  weft::testing::expect_clean_close(loop);
}

// ---- static_files under several loops (TSan: the per-loop caches) ---------------------------

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/weft-workers-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& body) const {
    std::ofstream(path + "/" + name, std::ios::binary) << body;
  }
  std::string path;
};

TEST(HttpWorkers, StaticFilesServeFromEveryLoopConcurrently) {
  TempDir dir;
  std::map<std::string, std::string> files;
  for (int i = 0; i < 6; ++i) {
    files["f" + std::to_string(i) + ".txt"] =
        std::string(100 + i * 700, static_cast<char>('a' + i));
  }
  for (const auto& [name, body] : files) dir.write(name, body);
  Loop loop;
  {
    http::StaticOptions so;
    so.revalidate_after = std::chrono::milliseconds(5);  // pool round trips as well as hits
    so.cache_entries = 3;                                // and evictions
    http::ServerOptions options;
    options.workers = 2;
    http::Server server(loop, options);
    server.get("/*", http::static_files(dir.path, so));
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
          for (int c = 0; c < 4; ++c) {
            RawClient client = RawClient::tcp(port);
            for (int i = 0; i < 25; ++i) {
              const std::string name = "f" + std::to_string((t + c + i) % 6) + ".txt";
              ASSERT_TRUE(client.send(get_request("/" + name)));
              auto r = client.read_response();
              ASSERT_TRUE(r) << client.error();
              EXPECT_EQ(r->status, 200);
              EXPECT_EQ(r->body, files[name]);
            }
          }
        });
      }
      for (auto& th : threads) th.join();
    });
    EXPECT_EQ(server.stats().requests, 4u * 4u * 25u);
  }
  weft::testing::expect_clean_close(loop);
}

// ---- listen errors -----------------------------------------------------------------------------

TEST(HttpWorkers, ListenErrorsAreReported) {
  Loop loop;
  {
    net::Listener taken(loop);  // no SO_REUSEPORT: nobody may share its port
    ASSERT_FALSE(taken.listen(*net::SocketAddress::parse("127.0.0.1", 0), [](net::Socket) {}));
    http::Server server(loop, workers_options(2));
    EXPECT_EQ(server.listen(taken.port(), "127.0.0.1"), std::errc::address_in_use);
    EXPECT_EQ(server.listen(0, "/tmp/weft-workers-unix.sock"), std::errc::invalid_argument)
        << "a Unix socket cannot be shared with SO_REUSEPORT";
    taken.close();
    server.close();
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

// The highest descriptor open now.
int highest_open_fd() {
  int highest = 2;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) highest = std::max(highest, std::atoi(e->d_name));
    ::closedir(d);
  }
  return highest;
}

// An extra loop that cannot start (its Loop gets EMFILE: loop 0's listener took the last
// descriptors) fails listen(); loop 0's listener is closed again, and listen() may be
// retried once descriptors are back.
TEST(HttpWorkers, AnExtraLoopsFailureFailsListen) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  // The asan preset has UBSan's vptr check, whose runtime opens a pipe to see whether a
  // vtable is readable: with every descriptor taken (this test's point) that fails and it
  // reports "invalid vptr" on a sound object. The debug and TSan builds run the test.
  GTEST_SKIP() << "needs every descriptor taken; UBSan's vptr check needs one";
#endif
#endif
  ThreadLog log;
  Loop loop;
  {
    http::Server server(loop, workers_options(2));
    add_who_routes(server, log);
    // Fill every hole so new descriptors come in order, then leave room for exactly loop
    // 0's listener (its socket and its spare descriptor).
    std::vector<int> fillers;
    const int highest = highest_open_fd();
    for (;;) {
      const int fd = ::dup(0);
      ASSERT_GE(fd, 0);
      if (fd > highest) {  // the first descriptor past every open one: next in line
        ::close(fd);
        break;
      }
      fillers.push_back(fd);
    }
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    rlimit tight = old;
    tight.rlim_cur = static_cast<rlim_t>(highest + 1 + 2);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
    const std::error_code ec = server.listen(0, "127.0.0.1");
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
    for (int fd : fillers) ::close(fd);
    EXPECT_EQ(ec, std::errc::too_many_files_open) << ec.message();
    EXPECT_EQ(server.port(), 0);

    ASSERT_FALSE(server.listen(0, "127.0.0.1"));  // retried with descriptors to spare
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] { EXPECT_GT(pipeline_over_connections(port, 24, 1), 1u); });
  }
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::itest
