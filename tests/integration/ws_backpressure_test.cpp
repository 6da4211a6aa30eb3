// Backpressure: a subscriber that never reads while 100 MB are published holds at most
// max_backpressure (plus one message) in the server; dropped messages are whole messages;
// `drain` runs once the reader catches up; the close policy closes with 1008. And the idle
// timeout: a ping at half of it, a close (1001) at the end of it.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"
#include "ws_test_client.hpp"

#include <weft/ws/app.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>

namespace weft::itest {
namespace {

using ws::Opcode;
using ws::WebSocket;

constexpr std::size_t kMessage = 64 * 1024;
constexpr std::size_t kMessages = 1600;  // 100 MiB
constexpr std::size_t kLimit = 256 * 1024;

// ASan keeps freed memory in quarantine (256 MiB by default), so RSS says nothing there;
// the bound on the queued bytes is checked in every build.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif
#else
constexpr bool kRssMeaningful = true;
#endif

struct FeedState {
  WebSocket* subscriber = nullptr;  // loop thread only
  std::size_t max_buffered = 0;     // loop thread only
  std::atomic<int> drains{0};
  std::atomic<int> close_code{0};
  std::atomic<bool> published{false};
  std::atomic<std::size_t> dropped{0};
  std::atomic<std::size_t> delivered{0};
  long rss_before = 0;
  std::atomic<long> rss_peak{0};
};

// The payload of message i: its number, then a byte pattern derived from it.
std::string message(std::size_t i) {
  std::string m(kMessage, static_cast<char>('a' + i % 26));
  const std::string n = std::to_string(i) + ":";
  m.replace(0, n.size(), n);
  return m;
}

// Publishes messages [i, kMessages) a few per loop iteration, so the socket gets its turn.
void publish_from(ws::App& app, FeedState& st, std::size_t i) {
  for (std::size_t end = std::min(kMessages, i + 8); i < end; ++i) {
    const std::size_t n = app.publish("feed", message(i), Opcode::binary);
    (n ? st.delivered : st.dropped).fetch_add(1);
    if (st.subscriber)
      st.max_buffered = std::max(st.max_buffered, st.subscriber->buffered_amount());
  }
  st.rss_peak = std::max(st.rss_peak.load(), rss_kib());
  if (i < kMessages) {
    app.loop().set_immediate([&app, &st, i] { publish_from(app, st, i); });
  } else {
    st.published = true;
  }
}

void add_feed(ws::App& app, FeedState& st, ws::BackpressurePolicy policy) {
  ws::Options o;
  o.max_backpressure = kLimit;
  o.backpressure_policy = policy;
  o.close_timeout = std::chrono::milliseconds(200);
  app.ws("/feed", {.open =
                       [&st](WebSocket& s) {
                         s.subscribe("feed");
                         st.subscriber = &s;
                       },
                   .close =
                       [&st](WebSocket&, std::uint16_t code, std::string_view) {
                         st.subscriber = nullptr;
                         st.close_code = code;
                       },
                   .drain = [&st](WebSocket&) { ++st.drains; },
                   .options = o});
}

template <class Client>
void with_feed(ws::BackpressurePolicy policy, FeedState& st, Client client) {
  Loop loop;
  {
    ws::App app(loop);
    add_feed(app, st, policy);
    ASSERT_FALSE(app.listen(0, "127.0.0.1"));
    const std::uint16_t port = app.port();
    run_with_client(loop, app, [&] { client(port, app); });
  }
  weft::testing::expect_clean_close(loop);
}

void wait_for(const std::function<bool()>& cond, Ms limit = 10000ms) {
  const auto end = Clock::now() + limit;
  while (!cond() && Clock::now() < end) std::this_thread::sleep_for(5ms);
}

TEST(WsBackpressure, SubscriberThatNeverReadsHoldsBoundedMemory) {
  FeedState st;
  with_feed(ws::BackpressurePolicy::drop, st, [&](std::uint16_t port, ws::App& app) {
    WsClient c = WsClient::connect(port, "/feed", {}, 16 * 1024);
    ASSERT_TRUE(c.ok());
    wait_for([&] { return app.ws_stats().open == 1; });
    st.rss_before = rss_kib();
    app.loop().post([&app, &st] { publish_from(app, st, 0); });
    wait_for([&] { return st.published.load(); }, 30000ms);
    ASSERT_TRUE(st.published);
    EXPECT_GT(st.dropped.load(), kMessages / 2) << "a reader that never reads cannot take 100 MB";
    EXPECT_EQ(app.ws_stats().dropped, st.dropped.load());
    if (kRssMeaningful) {
      EXPECT_LT(st.rss_peak.load() - st.rss_before, 32 * 1024) << "KiB of RSS growth";
    }
    EXPECT_EQ(st.drains.load(), 0);
    // Now read: whole messages, in order, exactly the ones that were not dropped.
    std::size_t got = 0;
    long last = -1;
    while (got < st.delivered.load()) {
      auto e = c.next(5000ms);
      ASSERT_TRUE(e) << c.error << " after " << got;
      ASSERT_EQ(e->kind, "binary");
      ASSERT_EQ(e->payload.size(), kMessage);
      const long i = std::stol(e->payload.substr(0, e->payload.find(':')));
      ASSERT_GT(i, last);
      ASSERT_EQ(e->payload, message(static_cast<std::size_t>(i)));
      last = i;
      ++got;
    }
    EXPECT_EQ(got, st.delivered.load());
    wait_for([&] { return st.drains.load() > 0; });
    EXPECT_EQ(st.drains.load(), 1) << "drain runs once the buffer emptied";
  });
  EXPECT_LE(st.max_buffered, kLimit + kMessage + 16);
  EXPECT_GT(st.max_buffered, kLimit / 2);
  std::printf(
      "published %zu x 64 KiB: %zu queued, %zu dropped; most buffered %zu bytes; "
      "RSS growth %ld KiB\n",
      kMessages, st.delivered.load(), st.dropped.load(), st.max_buffered,
      st.rss_peak.load() - st.rss_before);
}

TEST(WsBackpressure, ClosePolicyClosesWith1008) {
  FeedState st;
  with_feed(ws::BackpressurePolicy::close, st, [&](std::uint16_t port, ws::App& app) {
    WsClient c = WsClient::connect(port, "/feed", {}, 16 * 1024);
    ASSERT_TRUE(c.ok());
    wait_for([&] { return app.ws_stats().open == 1; });
    app.loop().post([&app, &st] { publish_from(app, st, 0); });
    wait_for([&] { return st.published.load() && st.close_code.load() != 0; }, 30000ms);
    EXPECT_EQ(st.close_code.load(), 1008);
    EXPECT_EQ(app.ws_stats().open, 0u);
  });
  EXPECT_LE(st.max_buffered, kLimit + kMessage + 16);
}

TEST(WsIdle, PingAtHalfTheTimeoutThenCloseWhenSilent) {
  Loop loop;
  std::atomic<int> code{0};
  {
    ws::App app(loop);
    ws::Options o;
    o.idle_timeout = std::chrono::milliseconds(300);
    o.close_timeout = std::chrono::milliseconds(100);
    app.ws("/idle", {.close = [&](WebSocket&, std::uint16_t c, std::string_view) { code = c; },
                     .options = o});
    ASSERT_FALSE(app.listen(0, "127.0.0.1"));
    const std::uint16_t port = app.port();
    run_with_client(loop, app, [&] {
      // A client that answers pings stays open past the timeout.
      WsClient live = WsClient::connect(port, "/idle");
      ASSERT_TRUE(live.ok());
      live.answers_pings = true;
      const auto start = Clock::now();
      auto ping = live.next(2000ms);
      ASSERT_TRUE(ping);
      EXPECT_EQ(ping->kind, "ping");
      const auto at = std::chrono::duration_cast<Ms>(Clock::now() - start).count();
      EXPECT_GE(at, 100);
      EXPECT_LT(at, 300);
      const auto until = Clock::now() + 400ms;  // past the timeout: only pings, answered
      while (auto e = live.next(std::chrono::duration_cast<Ms>(until - Clock::now()))) {
        EXPECT_EQ(e->kind, "ping");
      }
      EXPECT_EQ(live.error, "timeout");
      // A silent one is closed with 1001.
      WsClient silent = WsClient::connect(port, "/idle");
      ASSERT_TRUE(silent.ok());
      auto first = silent.next(2000ms);
      ASSERT_TRUE(first);
      EXPECT_EQ(first->kind, "ping");
      auto second = silent.next(2000ms);
      ASSERT_TRUE(second);
      EXPECT_EQ(second->str(), "close:1001");
      EXPECT_EQ(silent.raw().wait_closed(2000ms), CloseKind::eof);
      wait_for([&] { return code.load() != 0; });
      EXPECT_EQ(code.load(), 1001);
    });
  }
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::itest
