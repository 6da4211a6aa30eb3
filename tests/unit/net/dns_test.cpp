// DNS: Resolver lookups on the slow pool, numeric short-circuit, de-duplication, cache and
// TTL, timeout, lifetime, the coroutine form, and Stream::connect(host, port).
//
// Only names that never need the network are looked up for real: "localhost" (from
// /etc/hosts) and an RFC 6761 ".invalid" name, bounded by the resolver's timeout. The
// rest use an injected lookup function.
#include "support/loop_testing.hpp"
#include "unit/net/net_test_util.hpp"

#include <weft/net/dns.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

using namespace weft;
using namespace weft::net;
using namespace weft::net::test;

namespace {

std::uint64_t slow_jobs(Loop& loop) { return loop.runtime().stats(WorkClass::slow).completed; }

bool contains(const std::vector<SocketAddress>& v, const std::string& text) {
  return std::any_of(v.begin(), v.end(),
                     [&](const SocketAddress& a) { return a.to_string() == text; });
}

// One callback's outcome.
struct Outcome {
  bool called = false;
  std::error_code ec;
  std::vector<SocketAddress> addrs;
  ResolveCallback callback() {
    return [this](std::error_code e, std::span<const SocketAddress> a) {
      EXPECT_FALSE(called) << "called twice";
      called = true;
      ec = e;
      addrs.assign(a.begin(), a.end());
    };
  }
};

// A lookup function the test controls: counts calls, answers with `answer`, and blocks
// while the gate is closed (bounded, so a failing test cannot hang the pool).
struct FakeLookup {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool open = true;
    std::atomic<int> calls{0};
    std::atomic<int> running{0};
    Result<std::vector<SocketAddress>> answer{std::vector<SocketAddress>{}};
  };
  std::shared_ptr<Shared> s = std::make_shared<Shared>();

  FakeLookup() { answer(std::vector<SocketAddress>{SocketAddress::ipv4_loopback(0)}); }
  void answer(Result<std::vector<SocketAddress>> r) {
    std::lock_guard lock(s->mu);
    s->answer = std::move(r);
  }
  void close_gate() {
    std::lock_guard lock(s->mu);
    s->open = false;
  }
  void open_gate() {
    {
      std::lock_guard lock(s->mu);
      s->open = true;
    }
    s->cv.notify_all();
  }
  int calls() const { return s->calls.load(); }
  LookupFunction function() const {
    return [s = s](const std::string&, AddressFamily) -> Result<std::vector<SocketAddress>> {
      s->calls.fetch_add(1);
      s->running.fetch_add(1);
      std::unique_lock lock(s->mu);
      s->cv.wait_for(lock, std::chrono::seconds(10), [&] { return s->open; });
      s->running.fetch_sub(1);
      return s->answer;
    };
  }
  // Waits (really) until a call is blocked in the gate.
  void wait_running() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (s->running.load() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GT(s->running.load(), 0);
  }
};

ResolverOptions fake_options(const FakeLookup& fake) {
  ResolverOptions o;
  o.lookup = fake.function();
  return o;
}

}  // namespace

// ---- real lookups --------------------------------------------------------------------------

TEST(NetDns, ResolvesLocalhostOnTheSlowPool) {
  Loop loop;
  {
    Resolver resolver(loop);
    Outcome out;
    bool inside = true;
    resolver.resolve("localhost", 8080, out.callback());
    inside = false;
    EXPECT_FALSE(out.called);
    EXPECT_EQ(resolver.lookups_in_flight(), 1u);
    loop.run();
    EXPECT_FALSE(inside);
    ASSERT_TRUE(out.called);
    ASSERT_FALSE(out.ec) << out.ec.message();
    ASSERT_FALSE(out.addrs.empty());
    EXPECT_TRUE(contains(out.addrs, "127.0.0.1:8080") || contains(out.addrs, "[::1]:8080"));
    for (const auto& a : out.addrs) EXPECT_EQ(a.port(), 8080);
    EXPECT_EQ(slow_jobs(loop), 1u);
    EXPECT_EQ(resolver.cache_size(), 1u);
    EXPECT_EQ(resolver.waiters(), 0u);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, NumericHostsSkipThePoolButAreDeliveredLater) {
  Loop loop;
  {
    Resolver resolver(loop);
    Outcome v4, v6, bracketed, wrong_family;
    resolver.resolve("127.0.0.1", 80, v4.callback());
    resolver.resolve("::1", 443, v6.callback());
    resolver.resolve("[::1]", 8443, bracketed.callback());
    resolver.resolve("::1", 1, AddressFamily::ipv4, wrong_family.callback());
    EXPECT_FALSE(v4.called || v6.called || bracketed.called || wrong_family.called);
    EXPECT_EQ(resolver.lookups_in_flight(), 0u);
    loop.run();
    ASSERT_TRUE(v4.called && v6.called && bracketed.called && wrong_family.called);
    EXPECT_FALSE(v4.ec);
    ASSERT_EQ(v4.addrs.size(), 1u);
    EXPECT_EQ(v4.addrs[0].to_string(), "127.0.0.1:80");
    ASSERT_EQ(v6.addrs.size(), 1u);
    EXPECT_EQ(v6.addrs[0].to_string(), "[::1]:443");
    ASSERT_EQ(bracketed.addrs.size(), 1u);
    EXPECT_EQ(bracketed.addrs[0].to_string(), "[::1]:8443");
    EXPECT_EQ(wrong_family.ec, dns_errc::address_family);
    EXPECT_TRUE(wrong_family.addrs.empty());
    EXPECT_EQ(slow_jobs(loop), 0u);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, InvalidNameFailsQuicklyWithoutTheNetwork) {
  Loop loop;
  {
    ResolverOptions o;
    o.timeout = std::chrono::seconds(2);  // bounds the test if the system resolver tries DNS
    Resolver resolver(loop, o);
    Outcome out;
    const auto start = std::chrono::steady_clock::now();
    resolver.resolve("no-such-host.invalid", 80, out.callback());
    ASSERT_TRUE(run_until(
        loop, [&] { return out.called; }, std::chrono::milliseconds(4000)));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(3000));
    ASSERT_TRUE(out.ec);
    // RFC 6761: .invalid never resolves. Without a reachable name server the system
    // resolver may also say "try again", or not answer before our timeout.
    EXPECT_TRUE(out.ec == dns_errc::host_not_found || out.ec == dns_errc::no_data ||
                out.ec == dns_errc::try_again || out.ec == std::errc::timed_out)
        << out.ec.category().name() << ": " << out.ec.message();
    EXPECT_STREQ(out.ec == std::errc::timed_out ? "generic" : "weft.dns", out.ec.category().name());
    EXPECT_TRUE(out.addrs.empty());
    loop.run();  // a lookup that outlived its timeout still ends on the pool
    EXPECT_EQ(resolver.cache_size(), 0u);  // failures are not cached
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, ErrorCategoryUsesGaiStrerror) {
  std::error_code ec = dns_errc::host_not_found;
  EXPECT_STREQ(ec.category().name(), "weft.dns");
  EXPECT_EQ(ec.message(), ::gai_strerror(EAI_NONAME));
  EXPECT_EQ(dns_error(EAI_AGAIN), dns_errc::try_again);
  EXPECT_EQ(dns_error(EAI_SYSTEM, ENOMEM), std::errc::not_enough_memory);
  EXPECT_FALSE(dns_error(0));
}

// ---- de-duplication and cache -------------------------------------------------------------

TEST(NetDns, IdenticalLookupsInFlightShareOneJob) {
  Loop loop;
  {
    std::atomic<int> calls{0};
    ResolverOptions o;
    o.lookup = [&calls](const std::string& host, AddressFamily f) {
      calls.fetch_add(1);
      return getaddrinfo_lookup(host, f);
    };
    Resolver resolver(loop, o);
    Outcome a, b, c, other_family;
    resolver.resolve("localhost", 1000, a.callback());
    resolver.resolve("localhost", 1000, b.callback());
    resolver.resolve("LocalHost", 2000, c.callback());  // case and port do not matter
    resolver.resolve("localhost", 3000, AddressFamily::ipv4, other_family.callback());
    EXPECT_EQ(resolver.lookups_in_flight(), 2u);
    EXPECT_EQ(resolver.waiters(), 4u);
    loop.run();
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(slow_jobs(loop), 2u);
    for (Outcome* o2 : {&a, &b, &c, &other_family}) {
      ASSERT_TRUE(o2->called);
      ASSERT_FALSE(o2->ec) << o2->ec.message();
      ASSERT_FALSE(o2->addrs.empty());
    }
    EXPECT_EQ(a.addrs, b.addrs);
    for (const auto& addr : c.addrs) EXPECT_EQ(addr.port(), 2000);
    for (const auto& addr : other_family.addrs) EXPECT_TRUE(addr.is_ipv4());
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, CacheAnswersWithinTtlAndExpiresAfter) {
  ManualClock clock;
  LoopOptions lo;
  lo.clock = &clock;
  Loop loop(lo);
  {
    ResolverOptions o;
    o.cache_ttl = std::chrono::seconds(30);
    Resolver resolver(loop, o);
    Outcome first;
    resolver.resolve("localhost", 80, first.callback());
    loop.run();
    ASSERT_TRUE(first.called);
    ASSERT_FALSE(first.ec) << first.ec.message();
    EXPECT_EQ(slow_jobs(loop), 1u);

    clock.advance(std::chrono::seconds(29));
    loop.update_time();
    Outcome hit;
    resolver.resolve("localhost", 81, hit.callback());
    EXPECT_FALSE(hit.called);  // never inside resolve(), even from the cache
    EXPECT_EQ(resolver.lookups_in_flight(), 0u);
    loop.run();
    ASSERT_TRUE(hit.called);
    EXPECT_FALSE(hit.ec);
    EXPECT_EQ(hit.addrs.size(), first.addrs.size());
    for (const auto& a : hit.addrs) EXPECT_EQ(a.port(), 81);
    EXPECT_EQ(slow_jobs(loop), 1u);  // no new pool job

    clock.advance(std::chrono::seconds(2));  // 31 s after the answer: expired
    loop.update_time();
    Outcome miss;
    resolver.resolve("localhost", 82, miss.callback());
    EXPECT_EQ(resolver.lookups_in_flight(), 1u);
    loop.run();
    ASSERT_TRUE(miss.called);
    EXPECT_FALSE(miss.ec);
    EXPECT_EQ(slow_jobs(loop), 2u);

    resolver.clear_cache();
    EXPECT_EQ(resolver.cache_size(), 0u);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, CacheIsBoundedAndCanBeTurnedOff) {
  Loop loop;
  {
    FakeLookup fake;
    ResolverOptions o = fake_options(fake);
    o.max_cache_entries = 2;
    Resolver bounded(loop, o);
    Outcome x[4];
    // One after the other: the cache's order is the order the answers arrived in.
    bounded.resolve("a.test", 1, x[0].callback());
    loop.run();
    bounded.resolve("b.test", 1, x[1].callback());
    loop.run();
    bounded.resolve("c.test", 1, x[2].callback());
    loop.run();
    EXPECT_EQ(bounded.cache_size(), 2u);
    bounded.resolve("a.test", 1, x[3].callback());  // the least recently used was evicted
    loop.run();
    EXPECT_EQ(fake.calls(), 4);

    o.cache_ttl = Duration::zero();
    Resolver uncached(loop, o);
    Outcome y[2];
    uncached.resolve("a.test", 1, y[0].callback());
    loop.run();
    uncached.resolve("a.test", 1, y[1].callback());
    loop.run();
    EXPECT_EQ(fake.calls(), 6);
    EXPECT_EQ(uncached.cache_size(), 0u);
    EXPECT_TRUE(y[0].called && y[1].called);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, FailuresAreNotCached) {
  Loop loop;
  {
    FakeLookup fake;
    fake.answer(make_error_code(dns_errc::host_not_found));
    Resolver resolver(loop, fake_options(fake));
    Outcome a, b, c;
    resolver.resolve("nope.test", 1, a.callback());
    resolver.resolve("nope.test", 1, b.callback());  // joins the failing lookup
    loop.run();
    EXPECT_EQ(a.ec, dns_errc::host_not_found);
    EXPECT_EQ(b.ec, dns_errc::host_not_found);
    EXPECT_EQ(fake.calls(), 1);
    resolver.resolve("nope.test", 1, c.callback());
    loop.run();
    EXPECT_EQ(c.ec, dns_errc::host_not_found);
    EXPECT_EQ(fake.calls(), 2);
    EXPECT_EQ(resolver.cache_size(), 0u);
  }
  weft::testing::expect_clean_close(loop);
}

// ---- timeout ------------------------------------------------------------------------------

TEST(NetDns, TimeoutReportsTimedOutAndTheLateAnswerFillsTheCache) {
  Loop loop;
  {
    FakeLookup fake;
    fake.close_gate();
    ResolverOptions o = fake_options(fake);
    o.timeout = std::chrono::milliseconds(100);
    Resolver resolver(loop, o);
    Outcome out;
    const auto start = std::chrono::steady_clock::now();
    resolver.resolve("slow.test", 80, out.callback());
    ASSERT_TRUE(run_until(loop, [&] { return out.called; }));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, std::chrono::milliseconds(90));
    EXPECT_LT(took, std::chrono::milliseconds(2000));
    EXPECT_EQ(out.ec, std::errc::timed_out);
    EXPECT_EQ(resolver.waiters(), 0u);
    EXPECT_EQ(resolver.lookups_in_flight(), 1u);  // getaddrinfo cannot be interrupted

    fake.open_gate();
    loop.run();  // the job keeps the loop alive until it ends
    EXPECT_EQ(resolver.lookups_in_flight(), 0u);
    EXPECT_EQ(resolver.cache_size(), 1u);
    Outcome again;
    resolver.resolve("slow.test", 81, again.callback());
    loop.run();
    EXPECT_FALSE(again.ec);
    ASSERT_EQ(again.addrs.size(), 1u);
    EXPECT_EQ(again.addrs[0].to_string(), "127.0.0.1:81");
    EXPECT_EQ(fake.calls(), 1);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, TimeoutOnTheManualClock) {
  ManualClock clock(/*auto_advance=*/false);
  LoopOptions lo;
  lo.clock = &clock;
  Loop loop(lo);
  {
    FakeLookup fake;
    fake.close_gate();
    ResolverOptions o = fake_options(fake);
    o.timeout = std::chrono::seconds(5);
    Resolver resolver(loop, o);
    Outcome out;
    resolver.resolve("slow.test", 80, out.callback());
    fake.wait_running();
    clock.advance(std::chrono::milliseconds(4999));
    loop.run(RunMode::nowait);
    EXPECT_FALSE(out.called);
    clock.advance(std::chrono::milliseconds(1));
    loop.run(RunMode::nowait);
    ASSERT_TRUE(out.called);
    EXPECT_EQ(out.ec, std::errc::timed_out);
    fake.open_gate();
    loop.run();
  }
  weft::testing::expect_clean_close(loop);
}

// ---- lifetime -----------------------------------------------------------------------------

TEST(NetDns, DestroyingTheResolverDropsItsWaiters) {
  Loop loop;
  FakeLookup fake;
  fake.close_gate();
  auto resolver = std::make_unique<Resolver>(loop, fake_options(fake));
  Outcome pooled, joined, numeric;
  ResolveHandle h = resolver->resolve("x.test", 1, pooled.callback());
  resolver->resolve("x.test", 2, joined.callback());
  resolver->resolve("127.0.0.1", 3, numeric.callback());  // a deferred delivery
  fake.wait_running();
  resolver.reset();
  EXPECT_FALSE(h.cancel());  // safe after the Resolver died
  fake.open_gate();
  loop.run();  // the pool job ends, its completion finds nothing
  EXPECT_FALSE(pooled.called || joined.called || numeric.called);
  EXPECT_EQ(fake.calls(), 1);
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, ACallbackMayDestroyTheResolver) {
  Loop loop;
  FakeLookup fake;
  auto resolver = std::make_unique<Resolver>(loop, fake_options(fake));
  int calls = 0;
  for (int i = 0; i < 3; ++i) {
    resolver->resolve("x.test", 1, [&](std::error_code, std::span<const SocketAddress>) {
      ++calls;
      resolver.reset();
    });
  }
  loop.run();
  EXPECT_EQ(calls, 1);
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, CancelDropsOneWaiter) {
  Loop loop;
  {
    FakeLookup fake;
    Resolver resolver(loop, fake_options(fake));
    Outcome a, b, numeric;
    ResolveHandle ha = resolver.resolve("x.test", 1, a.callback());
    resolver.resolve("x.test", 2, b.callback());
    ResolveHandle hn = resolver.resolve("::1", 3, numeric.callback());
    EXPECT_TRUE(ha.cancel());
    EXPECT_FALSE(ha.cancel());
    EXPECT_TRUE(hn.cancel());
    loop.run();
    EXPECT_FALSE(a.called);
    EXPECT_FALSE(numeric.called);
    ASSERT_TRUE(b.called);
    EXPECT_FALSE(b.ec);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, AThrowingCallbackDoesNotStarveTheOthers) {
  Loop loop;
  int reported = 0;
  loop.set_uncaught_exception_handler([&](std::exception_ptr) { ++reported; });
  {
    FakeLookup fake;
    Resolver resolver(loop, fake_options(fake));
    Outcome second;
    resolver.resolve("x.test", 1, [](std::error_code, std::span<const SocketAddress>) {
      throw std::runtime_error("boom");
    });
    resolver.resolve("x.test", 1, second.callback());
    loop.run();
    EXPECT_EQ(reported, 1);
    EXPECT_TRUE(second.called);
  }
  weft::testing::expect_clean_close(loop);
}

// ---- coroutines ---------------------------------------------------------------------------

TEST(NetDns, CoroutineFormReturnsAddressesOrThrows) {
  Loop loop;
  {
    FakeLookup failing;
    failing.answer(make_error_code(dns_errc::host_not_found));
    Resolver real(loop);
    Resolver fake(loop, fake_options(failing));
    std::vector<SocketAddress> got;
    std::error_code thrown;
    bool done = false;
    // spawn(loop, fn) keeps the lambda (and so its captures) alive while the task runs;
    // spawning the Task of a called temporary lambda read the captures after the closure
    // died (clang 16's ASan: stack-use-after-scope).
    spawn(loop, [&]() -> Task<void> {
      got = co_await real.resolve("localhost", 8080);
      try {
        co_await fake.resolve("nope.test", 1);
      } catch (const std::system_error& e) {
        thrown = e.code();
      }
      auto numeric = co_await resolve(loop, "127.0.0.1", 9);  // the default resolver
      EXPECT_EQ(numeric.at(0).to_string(), "127.0.0.1:9");
      done = true;
    });
    loop.run();
    EXPECT_TRUE(done);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got[0].port(), 8080);
    EXPECT_EQ(thrown, dns_errc::host_not_found);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, DestroyedAwaiterUnregistersItself) {
  Loop loop;
  {
    FakeLookup fake;
    fake.close_gate();
    Resolver resolver(loop, fake_options(fake));
    bool resumed = false;
    // The lambda outlives its task: the coroutine reads the captures through the closure.
    auto body = [&]() -> Task<void> {
      co_await resolver.resolve("x.test", 1);
      resumed = true;
    };
    auto task = body();
    // Start the task by hand (not spawned), so the test can destroy it while suspended.
    auto awaiter = task.operator co_await();
    awaiter.await_suspend(std::noop_coroutine()).resume();
    EXPECT_EQ(resolver.waiters(), 1u);
    task = Task<void>();  // destroys the suspended frame and its awaiter
    EXPECT_EQ(resolver.waiters(), 0u);
    fake.open_gate();
    loop.run();
    EXPECT_FALSE(resumed);
  }
  weft::testing::expect_clean_close(loop);
}

// A token resumes the awaiting coroutine at once with operation_canceled, although the
// lookup (getaddrinfo) cannot be stopped: it runs to its end and fills the cache.
TEST(NetDns, TokenResumesAtOnceWhileTheLookupRuns) {
  Loop loop;
  {
    FakeLookup fake;
    fake.close_gate();
    Resolver resolver(loop, fake_options(fake));
    std::error_code ec;
    run_until_complete(loop, [&]() -> Task<void> {
      CancelSource source;
      auto cancel_when_running = [&]() -> Task<void> {
        co_await sleep(1ms);
        fake.wait_running();
        source.cancel();
      };
      spawn(loop, cancel_when_running());
      try {
        co_await resolver.resolve("x.test", 80, source.token());
      } catch (const std::system_error& e) {
        ec = e.code();
      }
    }());
    EXPECT_EQ(ec, std::errc::operation_canceled);
    EXPECT_EQ(fake.s->running.load(), 1);  // still blocked in the lookup
    EXPECT_EQ(resolver.waiters(), 0u);
    fake.open_gate();
    loop.run();
    EXPECT_EQ(resolver.cache_size(), 1u);  // the late answer was kept for the next lookup
  }
  weft::testing::expect_clean_close(loop);
}

// A lookup still queued on the pool, for nobody else, is removed: it never runs.
TEST(NetDns, TokenRemovesAQueuedLookup) {
  Loop loop;
  {
    FakeLookup fake;
    fake.close_gate();
    Resolver resolver(loop, fake_options(fake));
    const PoolOptions& po = loop.runtime().options();
    const unsigned io = loop.runtime().io_threads();
    const unsigned slow = po.slow_max_running ? po.slow_max_running : std::max(1u, io / 2);
    std::vector<Outcome> holders(slow);
    for (unsigned i = 0; i < slow; ++i) {
      resolver.resolve("hold" + std::to_string(i) + ".test", 1, holders[i].callback());
    }
    std::error_code ec;
    run_until_complete(loop, [&]() -> Task<void> {
      while (fake.s->running.load() < static_cast<int>(slow)) co_await sleep(1ms);
      CancelSource source;
      auto cancel_soon = [&]() -> Task<void> {
        co_await sleep(10ms);
        source.cancel();
      };
      spawn(loop, cancel_soon());
      try {
        co_await resolver.resolve("queued.test", 80, source.token());
      } catch (const std::system_error& e) {
        ec = e.code();
      }
    }());
    EXPECT_EQ(ec, std::errc::operation_canceled);
    EXPECT_EQ(resolver.lookups_in_flight(), slow);  // the queued one is gone
    fake.open_gate();
    loop.run();
    EXPECT_EQ(fake.calls(), static_cast<int>(slow));  // it never ran
    EXPECT_EQ(loop.runtime().stats(WorkClass::slow).canceled, 1u);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, AnAlreadyCancelledTokenStartsNoLookup) {
  Loop loop;
  {
    FakeLookup fake;
    Resolver resolver(loop, fake_options(fake));
    CancelSource source;
    source.cancel();
    std::error_code ec;
    run_until_complete(loop, [&]() -> Task<void> {
      try {
        co_await resolver.resolve("x.test", 80, source.token());
      } catch (const std::system_error& e) {
        ec = e.code();
      }
    }());
    EXPECT_EQ(ec, std::errc::operation_canceled);
    EXPECT_EQ(fake.calls(), 0);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(NetDns, DefaultResolverIsPerLoop) {
  Loop loop;
  Resolver& r = default_resolver(loop);
  EXPECT_EQ(&r, &default_resolver(loop));
  EXPECT_EQ(&r.loop(), &loop);
  Outcome a, b;
  resolve(loop, "localhost", 1, a.callback());
  loop.run();
  resolve(loop, "localhost", 2, b.callback());
  loop.run();
  EXPECT_TRUE(a.called && b.called);
  EXPECT_FALSE(b.ec);
  EXPECT_EQ(slow_jobs(loop), 1u);  // the second answer came from the cache
  {
    Loop other;
    EXPECT_NE(&default_resolver(other), &r);
    weft::testing::expect_clean_close(other);
  }
  weft::testing::expect_clean_close(loop);
}

// ---- Stream::connect(host, port) ------------------------------------------------------------

TEST(NetDns, StreamConnectsToLocalhostByName) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  Stream client(loop);
  std::string received;
  bool connected = false, ended = false, inside = true;
  client.connect(
      "localhost", server.address().port(),
      [&](std::error_code ec) {
        EXPECT_FALSE(inside);
        EXPECT_FALSE(ec) << ec.message();
        connected = true;
        EXPECT_EQ(client.peer_address().to_string(), server.address().to_string());
      },
      std::chrono::seconds(5));
  inside = false;
  EXPECT_TRUE(client.is_connecting());
  client.read_start([&](std::span<char> d) {
    received += to_string(d);
    return d.size();
  });
  client.on_end([&] { ended = true; });
  client.write("hello by name");  // queued until connected
  client.shutdown(WriteCallback{});
  run_until(loop, [&] { return ended; });
  EXPECT_TRUE(connected);
  EXPECT_EQ(received, "hello by name");
  client.close();
  server.close_all();
  finish(loop);
}

TEST(NetDns, StreamConnectFallsBackToTheNextAddress) {
  Loop loop;
  EchoServer server(loop, SocketAddress::ipv4_loopback(0));
  FakeLookup fake;
  // 127.0.0.2 refuses (nothing listens there), then 127.0.0.1 answers.
  fake.answer(std::vector<SocketAddress>{*SocketAddress::parse("127.0.0.2", 0),
                                         SocketAddress::ipv4_loopback(0)});
  configure_default_resolver(loop, fake_options(fake));
  Stream client(loop);
  std::string received;
  std::error_code result = make_error_code(std::errc::interrupted);
  bool ended = false;
  std::string peer;
  client.connect(
      "two.test", server.address().port(),
      [&](std::error_code ec) {
        result = ec;
        peer = client.peer_address().to_string();
      },
      std::chrono::seconds(5));
  client.read_start([&](std::span<char> d) {
    received += to_string(d);
    return d.size();
  });
  client.on_end([&] { ended = true; });
  client.write("after a refusal");
  client.shutdown(WriteCallback{});
  run_until(loop, [&] { return ended; });
  EXPECT_FALSE(result) << result.message();
  EXPECT_EQ(received, "after a refusal");
  EXPECT_EQ(peer, server.address().to_string());
  client.close();
  server.close_all();
  finish(loop);
}

TEST(NetDns, StreamConnectReportsTheLastErrorWhenEveryAddressFails) {
  Loop loop;
  Listener probe(loop);  // a port that surely refuses: bound, then closed
  ASSERT_FALSE(probe.listen(SocketAddress::ipv4_loopback(0), [](Socket) {}));
  const std::uint16_t port = probe.local_address().port();
  probe.close();
  FakeLookup fake;
  fake.answer(std::vector<SocketAddress>{*SocketAddress::parse("127.0.0.2", 0),
                                         SocketAddress::ipv4_loopback(0)});
  configure_default_resolver(loop, fake_options(fake));
  Stream client(loop);
  bool called = false;
  std::error_code result;
  client.connect("two.test", port, [&](std::error_code ec) {
    called = true;
    result = ec;
  });
  run_until(loop, [&] { return called; });
  EXPECT_EQ(result, std::errc::connection_refused);
  EXPECT_FALSE(client.is_connecting());
  client.close();
  finish(loop);
}

TEST(NetDns, StreamConnectReportsLookupErrors) {
  Loop loop;
  FakeLookup fake;
  fake.answer(make_error_code(dns_errc::host_not_found));
  configure_default_resolver(loop, fake_options(fake));
  Stream client(loop);
  bool called = false;
  std::error_code result;
  client.connect("nope.test", 80, [&](std::error_code ec) {
    called = true;
    result = ec;
  });
  EXPECT_FALSE(called);
  run_until(loop, [&] { return called; });
  EXPECT_EQ(result, dns_errc::host_not_found);
  EXPECT_FALSE(client.is_connecting());
  client.close();
  finish(loop);
}

TEST(NetDns, StreamConnectTimeoutCoversTheLookup) {
  Loop loop;
  FakeLookup fake;
  fake.close_gate();
  configure_default_resolver(loop, fake_options(fake));
  Stream client(loop);
  bool called = false;
  std::error_code result;
  const auto start = std::chrono::steady_clock::now();
  client.connect(
      "slow.test", 80,
      [&](std::error_code ec) {
        called = true;
        result = ec;
      },
      std::chrono::milliseconds(100));
  run_until(loop, [&] { return called; });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  EXPECT_EQ(result, std::errc::timed_out);
  EXPECT_EQ(default_resolver(loop).waiters(), 0u);  // the lookup's waiter was canceled
  client.close();
  fake.open_gate();
  finish(loop);
}

TEST(NetDns, StreamCloseDuringLookupCancels) {
  Loop loop;
  FakeLookup fake;
  fake.close_gate();
  configure_default_resolver(loop, fake_options(fake));
  bool called = false, inside_close = false;
  std::error_code result;
  {
    Stream client(loop);
    client.connect("slow.test", 80, [&](std::error_code ec) {
      EXPECT_FALSE(inside_close);
      called = true;
      result = ec;
    });
    inside_close = true;
    client.close();
    inside_close = false;
    EXPECT_EQ(default_resolver(loop).waiters(), 0u);
    loop.run(RunMode::nowait);
    EXPECT_TRUE(called);
    EXPECT_EQ(result, std::errc::operation_canceled);

    Stream destroyed(loop);  // destroyed while its lookup is in flight
    destroyed.connect("slow.test", 81, [&](std::error_code) { ADD_FAILURE() << "called"; });
    EXPECT_EQ(default_resolver(loop).waiters(), 1u);
  }
  EXPECT_EQ(default_resolver(loop).waiters(), 0u);
  fake.open_gate();
  finish(loop);
}
