// Parked WebSockets (http/upgrade.hpp, "Parking"; ws/websocket.hpp, "Memory"): an idle
// connection gives up its HTTP connection object and keeps its socket; publishes reach it
// straight through the socket; a message (or a write the kernel cannot take whole) brings
// the connection object back; a half-received message keeps it; closing works either way.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"
#include "unit/ws/ws_test_frames.hpp"
#include "ws_test_client.hpp"

#include <weft/ws/app.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace weft::itest {
namespace {

using ws::Opcode;
using ws::WebSocket;
using namespace std::chrono_literals;

constexpr auto kParkAfter = 30ms;

struct Closes {
  std::mutex mu;
  std::vector<std::string> seen;  // "code:reason" from Behavior::close
  void add(std::uint16_t code, std::string_view reason) {
    std::lock_guard lock(mu);
    seen.push_back(std::to_string(code) + ":" + std::string(reason));
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mu);
    return seen;
  }
};

// Polls until pred() holds (2 s at most).
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 400; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

void with_app(const std::function<void(std::uint16_t, ws::App&, Closes&)>& client) {
  Loop loop;
  Closes closes;
  {
    http::ServerOptions so;
    so.park_idle_after = kParkAfter;
    ws::App app(loop, so);
    ws::Options o;
    o.idle_timeout = Duration::zero();
    o.close_timeout = 300ms;
    o.max_backpressure = 64 * 1024 * 1024;
    app.ws("/ws", {.open = [](WebSocket& s) { s.subscribe("news"); },
                   .message = [](WebSocket& s, std::string_view m, Opcode op) { s.send(m, op); },
                   .close = [&closes](WebSocket&, std::uint16_t c,
                                      std::string_view r) { closes.add(c, r); },
                   .options = o});
    ASSERT_FALSE(app.listen(0, "127.0.0.1"));
    const std::uint16_t port = app.port();
    run_with_client(loop, app, [&] { client(port, app, closes); });
  }
  weft::testing::expect_clean_close(loop);
}

std::size_t parked(ws::App& app) { return app.stats().parked_connections; }

TEST(WsPark, IdleConnectionParksTakesPublishesAndWakesOnAMessage) {
  with_app([](std::uint16_t port, ws::App& app, Closes& closes) {
    WsClient c = WsClient::connect(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(eventually([&] { return parked(app) == 1; }));
    EXPECT_EQ(app.stats().open_connections, 1u);  // still open while parked
    EXPECT_EQ(app.ws_stats().open, 1u);

    // A publish goes straight to the parked socket: it stays parked.
    app.publish("news", "while parked");
    auto f = c.next();
    ASSERT_TRUE(f) << c.error;
    EXPECT_EQ(f->str(), "text:while parked");
    EXPECT_EQ(parked(app), 1u);

    // A message unparks it (and is answered); idle again, it parks again.
    ASSERT_TRUE(c.send("wake up"));
    f = c.next();
    ASSERT_TRUE(f) << c.error;
    EXPECT_EQ(f->str(), "text:wake up");
    ASSERT_TRUE(eventually([&] { return parked(app) == 1; }));
    for (int i = 0; i < 3; ++i) {  // park, wake, park: the parser state survives each move
      std::this_thread::sleep_for(kParkAfter * 3);
      ASSERT_TRUE(c.send("again " + std::to_string(i)));
      f = c.next();
      ASSERT_TRUE(f) << c.error;
      EXPECT_EQ(f->str(), "text:again " + std::to_string(i));
    }

    ASSERT_TRUE(eventually([&] { return parked(app) == 1; }));
    ASSERT_TRUE(c.send_close(1000, "done"));
    EXPECT_EQ(c.until_closed(), (std::vector<std::string>{"close:1000"}));
    ASSERT_TRUE(eventually([&] { return closes.get().size() == 1; }));
    EXPECT_EQ(closes.get()[0], "1000:done");
    EXPECT_EQ(parked(app), 0u);
    ASSERT_TRUE(eventually([&] { return app.stats().open_connections == 0; }));
  });
}

TEST(WsPark, HalfReceivedMessageKeepsTheConnection) {
  with_app([](std::uint16_t port, ws::App& app, Closes&) {
    WsClient c = WsClient::connect(port);
    ASSERT_TRUE(c.ok());
    // A first fragment, and half of a frame's header: neither may be parked away.
    ASSERT_TRUE(c.send_raw(ws::testing::raw_frame("Hel", {.fin = false})));
    const std::string last = ws::testing::raw_frame("lo", {.opcode = 0});
    ASSERT_TRUE(c.send_raw(last.substr(0, 3)));
    std::this_thread::sleep_for(kParkAfter * 10);
    EXPECT_EQ(parked(app), 0u);
    ASSERT_TRUE(c.send_raw(last.substr(3)));
    auto f = c.next();
    ASSERT_TRUE(f) << c.error;
    EXPECT_EQ(f->str(), "text:Hello");
    ASSERT_TRUE(eventually([&] { return parked(app) == 1; }));
  });
}

// A publish the parked socket cannot take whole (the client reads nothing yet, small
// buffers): the rest is queued on a connection object brought back for it, and arrives.
TEST(WsPark, PartialWriteUnparksAndQueuesTheRest) {
  with_app([](std::uint16_t port, ws::App& app, Closes&) {
    WsClient c = WsClient::connect(port, "/ws", {}, 4096);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(eventually([&] { return parked(app) == 1; }));
    std::string big(4 * 1024 * 1024, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4096)
      big[i] = static_cast<char>('a' + i / 4096 % 26);
    app.publish("news", big);
    ASSERT_TRUE(eventually([&] { return parked(app) == 0; }));
    auto f = c.next();
    ASSERT_TRUE(f) << c.error;
    EXPECT_EQ(f->kind, "text");
    EXPECT_TRUE(f->payload == big);
    ASSERT_TRUE(eventually([&] { return parked(app) == 1; }));  // drained and idle: parked again
  });
}

// A graceful close reaches parked connections (1001), and a peer that vanishes while
// parked is noticed (1006).
TEST(WsPark, ServerCloseAndPeerResetWhileParked) {
  with_app([](std::uint16_t port, ws::App& app, Closes& closes) {
    WsClient gone = WsClient::connect(port);
    WsClient stays = WsClient::connect(port);
    ASSERT_TRUE(gone.ok() && stays.ok());
    ASSERT_TRUE(eventually([&] { return parked(app) == 2; }));
    gone.raw().close();
    ASSERT_TRUE(eventually([&] { return closes.get().size() == 1; }));
    EXPECT_EQ(closes.get()[0], "1006:");
    EXPECT_EQ(parked(app), 1u);
    app.loop().post([&app] { app.close(std::chrono::seconds(1)); });
    stays.answers_pings = true;
    auto f = stays.next();
    ASSERT_TRUE(f) << stays.error;
    EXPECT_EQ(f->str(), "close:1001");
    ASSERT_TRUE(stays.send_close(1001));
    ASSERT_TRUE(eventually([&] { return closes.get().size() == 2; }));
    EXPECT_EQ(closes.get()[1], "1001:");
  });
}

}  // namespace
}  // namespace weft::itest
