// Cancellation at the await points coro_stream_test.cpp leaves out: read_until and
// read_exactly under a token and dropped, write_all dropped under backpressure, and
// shutdown() under with_timeout and a token — each against its cancel-safety claim in
// stream_await.hpp / stream.hpp.
#include "unit/net/net_test_util.hpp"

#include <weft/net/tcp.hpp>
#include <weft/weft.hpp>

#include <array>
#include <string>
#include <thread>

using namespace weft;
using namespace weft::net;
using namespace weft::net::test;

namespace {

struct CoroListener {
  explicit CoroListener(Loop& loop) : listener(loop) {
    EXPECT_FALSE(listener.listen(SocketAddress::ipv4_loopback(0)));
  }
  SocketAddress address() const { return listener.local_address(); }
  Listener listener;
};

template <class T>
T run(Loop& loop, Task<T> task) {
  Timer guard(loop);
  guard.unref();
  guard.start(
      [&] {
        ADD_FAILURE() << "timed out";
        loop.stop();
      },
      10s);
  return run_until_complete(loop, std::move(task));
}

// The error code of an awaitable ({} if it succeeded).
template <class A>
Task<std::error_code> code_of(A&& a) {
  try {
    co_await a;  // as an lvalue: the awaiters are not movable
  } catch (const std::system_error& e) {
    co_return e.code();
  }
  co_return std::error_code();
}

// Reads everything until the end of input (the FIN).
Task<std::string> read_all(Stream& s) {
  std::string all;
  std::array<char, 65536> b;
  while (std::size_t n = co_await s.read_some(b)) all.append(b.data(), n);
  co_return all;
}

}  // namespace

// read_until: cancelled by a token, then dropped by when_any, the bytes it consumed are
// in buf both times; the third call completes the line.
TEST(CoroCancel, ReadUntilUnderATokenAndDroppedKeepsThePartialLine) {
  Loop loop;
  CoroListener server(loop);
  spawn(loop, [&]() -> Task<void> {
    Stream s = co_await server.listener.accept();
    co_await s.write_all("ab");
    co_await sleep(300ms);
    co_await s.write_all("cd");
    co_await sleep(300ms);
    co_await s.write_all("ef\nrest");
    co_await s.shutdown();
    co_await read_all(s);
    s.close();
  });
  run(loop, [&]() -> Task<void> {
    Stream c = co_await connect(loop, server.address());
    std::string line;
    CancelSource src;
    Timer t(loop);
    t.start([&] { src.cancel(); }, 100ms);
    std::error_code ec = co_await code_of(c.read_until(line, "\n", 100, src.token()));
    EXPECT_EQ(ec, std::errc::operation_canceled);
    EXPECT_EQ(line, "ab");
    auto r =
        co_await when_any(c.read_until(line, "\n", 100), sleep(300ms));  // "cd" comes at ~300 ms
    EXPECT_EQ(r.index(), 1u);
    EXPECT_EQ(line, "abcd");
    std::size_t n = co_await c.read_until(line, "\n", 100);
    EXPECT_EQ(line, "abcdef\n");
    EXPECT_EQ(n, 3u);  // appended by this call
    std::string rest = co_await read_all(c);
    EXPECT_EQ(rest, "rest");  // nothing over-read, nothing lost
    co_await c.shutdown();
    t.close();
    c.close();
  }());
  server.listener.close();
  finish(loop);
}

// read_exactly is not cancel safe: under a token it throws operation_canceled with the
// bytes it copied consumed from the stream (in buf, count lost); the next read goes on
// after them.
TEST(CoroCancel, ReadExactlyUnderATokenConsumesWhatItCopied) {
  Loop loop;
  CoroListener server(loop);
  spawn(loop, [&]() -> Task<void> {
    Stream s = co_await server.listener.accept();
    co_await s.write_all("abc");
    co_await sleep(300ms);
    co_await s.write_all("def");
    co_await s.shutdown();
    co_await read_all(s);
    s.close();
  });
  run(loop, [&]() -> Task<void> {
    Stream c = co_await connect(loop, server.address());
    std::array<char, 6> six{};
    CancelSource src;
    Timer t(loop);
    t.start([&] { src.cancel(); }, 100ms);
    std::error_code ec = co_await code_of(c.read_exactly(six, src.token()));
    EXPECT_EQ(ec, std::errc::operation_canceled);
    EXPECT_EQ(std::string(six.data(), 3), "abc");
    std::array<char, 3> three{};
    std::size_t n = co_await c.read_exactly(three);
    EXPECT_EQ(n, 3u);
    EXPECT_EQ(std::string(three.data(), 3), "def");
    co_await c.shutdown();
    t.close();
    c.close();
  }());
  server.listener.close();
  finish(loop);
}

// write_all dropped (when_any) while backpressure holds it: the prefix it handed over is
// still sent, the rest is not, and the stream goes on — the peer receives a prefix of
// the data, unbroken, followed by the next write.
TEST(CoroCancel, WriteAllDroppedUnderBackpressureSendsItsPrefixOnly) {
  Loop loop;
  CoroListener server(loop);
  std::string received;
  bool may_read = false;  // not a fixed delay: sanitizer builds are slow
  spawn(loop, [&]() -> Task<void> {
    Stream s = co_await server.listener.accept();
    while (!may_read) co_await sleep(5ms);  // not reading: the client's writes back up
    received = co_await read_all(s);
    s.close();
  });
  run(loop, [&]() -> Task<void> {
    ConnectOptions opts{.stream = {.high_water_mark = 4096}};
    Stream c = co_await connect(loop, server.address(), opts);
    const std::string big(64 << 20, 'z');
    auto r = co_await when_any(c.write_all(big), sleep(100ms));
    EXPECT_EQ(r.index(), 1u);
    EXPECT_GT(c.queued_bytes(), 0u);
    EXPECT_LE(c.queued_bytes(), 4096u + 1);
    may_read = true;
    co_await c.write_all("tail");
    co_await c.shutdown();
    c.close();
  }());
  server.listener.close();
  finish(loop);
  ASSERT_GE(received.size(), 4u);
  EXPECT_LT(received.size(), std::size_t(64) << 20);  // the rest was never sent
  EXPECT_EQ(received.substr(received.size() - 4), "tail");
  EXPECT_EQ(received.find_first_not_of('z'), received.size() - 4);
}

// shutdown() cancelled while the queue cannot drain (the peer does not read yet): by
// with_timeout (timed_out) on one connection, by a token (operation_canceled) on another.
// Either way the FIN cannot be recalled: once the peer reads, it gets every queued byte
// and then the end of input.
TEST(CoroCancel, ShutdownCancelledStillSendsTheFinAfterTheQueue) {
  Loop loop;
  CoroListener server(loop);
  std::array<std::string, 2> received;
  std::array<bool, 2> ended{false, false};
  std::array<bool, 2> may_read{false,
                               false};  // the server reads only once the client is past its checks
  auto serve = [&](int i) -> Task<void> {
    Stream s = co_await server.listener.accept();
    while (!may_read[i]) co_await sleep(5ms);  // not a fixed delay: sanitizer builds are slow
    received[i] = co_await read_all(s);        // returns at the FIN
    ended[i] = true;
    s.close();
  };
  spawn(loop, serve(0));
  auto client = [&](bool use_token) -> Task<void> {
    const int i = use_token ? 1 : 0;
    ConnectOptions opts{.stream = {.high_water_mark = 4096}};
    Stream c = co_await connect(loop, server.address(), opts);
    const std::string big(64 << 20, 'y');
    std::error_code wec = co_await code_of(with_timeout(50ms, c.write_all(big)));
    EXPECT_EQ(wec, std::errc::timed_out);
    EXPECT_GT(c.queued_bytes(), 0u);
    std::error_code ec;
    if (use_token) {
      CancelSource src;
      Timer t(loop);
      t.start([&] { src.cancel(); }, 50ms);
      ec = co_await code_of(c.shutdown(src.token()));
      EXPECT_EQ(ec, std::errc::operation_canceled);
      t.close();
    } else {
      ec = co_await code_of(with_timeout(50ms, c.shutdown()));
      EXPECT_EQ(ec, std::errc::timed_out);
    }
    EXPECT_GT(c.queued_bytes(), 0u);  // the FIN waits behind them
    may_read[i] = true;
    co_await read_all(c);  // the server closes once it has read up to the FIN
    EXPECT_EQ(c.queued_bytes(), 0u);
    c.close();
  };
  run(loop, client(false));
  spawn(loop, serve(1));
  run(loop, client(true));
  server.listener.close();
  finish(loop);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(ended[i]) << i;
    EXPECT_GT(received[i].size(), 4096u) << i;  // more than what was queued at the mark
    EXPECT_EQ(received[i].find_first_not_of('y'), std::string::npos) << i;
  }
}

// An already cancelled token: shutdown() does nothing (the stream can still write).
TEST(CoroCancel, ShutdownWithACancelledTokenDoesNothing) {
  Loop loop;
  CoroListener server(loop);
  std::string received;
  spawn(loop, [&]() -> Task<void> {
    Stream s = co_await server.listener.accept();
    received = co_await read_all(s);
    s.close();
  });
  run(loop, [&]() -> Task<void> {
    Stream c = co_await connect(loop, server.address());
    CancelSource src;
    src.cancel();
    std::error_code ec = co_await code_of(c.shutdown(src.token()));
    EXPECT_EQ(ec, std::errc::operation_canceled);
    co_await c.write_all("still open");
    co_await c.shutdown();
    co_await read_all(c);
    c.close();
  }());
  server.listener.close();
  finish(loop);
  EXPECT_EQ(received, "still open");
}

// net::connect by name: opts.timeout and opts.token both reach the lookup (which cannot
// be stopped: the coroutine resumes at once and the lookup finishes on the pool).
TEST(CoroCancel, ConnectTimeoutAndTokenReachTheLookup) {
  Loop loop;
  ResolverOptions ro;
  ro.lookup = [](const std::string&, AddressFamily) -> Result<std::vector<SocketAddress>> {
    std::this_thread::sleep_for(400ms);
    return std::vector<SocketAddress>{SocketAddress::ipv4_loopback(0)};
  };
  configure_default_resolver(loop, std::move(ro));
  run(loop, [&]() -> Task<void> {
    auto began = std::chrono::steady_clock::now();
    ConnectOptions timed;
    timed.timeout = 50ms;
    std::error_code ec = co_await code_of(connect(loop, "slow.test", 9, timed));
    EXPECT_EQ(ec, std::errc::timed_out);
    EXPECT_LT(std::chrono::steady_clock::now() - began, 350ms);
    default_resolver(loop).clear_cache();
    CancelSource src;
    Timer t(loop);
    t.start([&] { src.cancel(); }, 50ms);
    began = std::chrono::steady_clock::now();
    ConnectOptions cancellable;
    cancellable.token = src.token();
    ec = co_await code_of(connect(loop, "slower.test", 9, cancellable));
    EXPECT_EQ(ec, std::errc::operation_canceled);
    EXPECT_LT(std::chrono::steady_clock::now() - began, 350ms);
    t.close();
  }());
  finish(loop);
}
