// WebSocket server over real sockets: the handshake, the RFC 6455 conformance table (each
// case on its own connection, against an echo route), closing handshakes and timeouts,
// backpressure with a subscriber that never reads, idle pings, pub/sub.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"
#include "unit/ws/conformance_cases.hpp"
#include "ws_test_client.hpp"

#include <weft/ws/app.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace weft::itest {
namespace {

using ws::Opcode;
using ws::WebSocket;

struct Recorded {
  std::mutex mu;
  std::vector<std::string> closes;  // "code:reason" from Behavior::close
  void add(std::uint16_t code, std::string_view reason) {
    std::lock_guard lock(mu);
    closes.push_back(std::to_string(code) + ":" + std::string(reason));
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mu);
    return closes;
  }
  std::set<const Loop*> loops;  // the loops that opened a /room connection
  void opened_on(const Loop& l) {
    std::lock_guard lock(mu);
    loops.insert(&l);
  }
  std::size_t loop_count() {
    std::lock_guard lock(mu);
    return loops.size();
  }
};

ws::Options test_options() {
  ws::Options o;
  o.close_timeout = std::chrono::milliseconds(200);
  o.idle_timeout = Duration::zero();
  return o;
}

void add_routes(ws::App& app, Recorded& rec) {
  auto echo = [&rec](ws::Options o) {
    return ws::Behavior{
        .message = [](WebSocket& s, std::string_view m, Opcode op) { s.send(m, op); },
        .close = [&rec](WebSocket&, std::uint16_t c, std::string_view r) { rec.add(c, r); },
        .options = std::move(o)};
  };
  app.ws("/ws", echo(test_options()));
  ws::Options small = test_options();
  small.max_message_size = 1000;
  app.ws("/ws-small", echo(small));
  ws::Options protos = test_options();
  protos.protocols = {"chat.v2", "chat.v1"};
  app.ws("/ws-proto", echo(protos));
  ws::Options deflate = test_options();
  deflate.compression.enabled = true;
  app.ws("/ws-deflate", echo(deflate));
  app.ws(
      "/room/:name",
      {.upgrade = [](http::Request& req) -> std::any {
         if (req.header("x-token").empty()) throw http::HttpError(401, "token required");
         return std::string(req.header("x-token"));
       },
       .open =
           [&rec](WebSocket& s) {
             s.subscribe(s.param("name"));
             rec.opened_on(s.loop());
           },
       .message =
           [&app](WebSocket& s, std::string_view m, Opcode) {
             if (m == "whoami")
               s.send(std::any_cast<std::string&>(s.user()) + "@" + std::string(s.param("name")));
             if (m == "close-me") s.close(4000, "bye");
             if (m.starts_with("pub:")) app.publish(s.param("name"), m.substr(4));
             if (m == "throw") throw std::runtime_error("handler failed");
           },
       .close = [&rec](WebSocket&, std::uint16_t c, std::string_view r) { rec.add(c, r); },
       .options = test_options()});
}

void with_server(const std::function<void(std::uint16_t, ws::App&, Recorded&)>& client,
                 http::ServerOptions options = {}) {
  Loop loop;
  Recorded rec;
  {
    ws::App app(loop, options);
    add_routes(app, rec);
    ASSERT_FALSE(app.listen(0, "127.0.0.1"));
    const std::uint16_t port = app.port();
    run_with_client(loop, app, [&] { client(port, app, rec); });
  }
  weft::testing::expect_clean_close(loop);
}

// What the echo route must answer to a conformance case: each message echoed, each ping
// ponged, then the close (the peer's code echoed, the error's code, or our 1000 answered).
std::vector<std::string> expected_replies(const ws::testing::ConformanceCase& c,
                                          bool& client_closes) {
  std::vector<std::string> out;
  bool closed = false;
  for (const std::string& e : c.events) {
    if (e.starts_with("text:") || e.starts_with("binary:")) out.push_back(e);
    if (e.starts_with("ping:")) out.push_back("pong:" + e.substr(5));
    if (e.starts_with("close:")) {
      out.push_back(e.substr(0, e.find(':', 6)));
      closed = true;
    }
  }
  client_closes = !closed && !c.error;
  if (c.error) out.push_back("close:" + std::to_string(c.error));
  if (client_closes) out.push_back("close:1000");
  return out;
}

TEST(WsServer, HandshakeAnswersWithTheAcceptKey) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    WsClient c = WsClient::connect(port);
    ASSERT_TRUE(c.ok()) << c.handshake().status;
    EXPECT_EQ(c.handshake().header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    EXPECT_EQ(c.handshake().header("upgrade"), "websocket");
    EXPECT_FALSE(c.handshake().header("sec-websocket-protocol"));
    ASSERT_TRUE(c.send("hi"));
    auto e = c.next();
    ASSERT_TRUE(e) << c.error;
    EXPECT_EQ(e->str(), "text:hi");
  });
}

// /_weft/metrics' weft_http_upgraded_connections{loop} comes from these counters: open
// WebSocket connections per loop, and upgrades ever.
TEST(WsServer, UpgradedConnectionsAreCountedPerLoop) {
  with_server([](std::uint16_t port, ws::App& app, Recorded&) {
    auto open_now = [&app] { return app.loop_metrics().at(0).upgraded_open; };
    WsClient a = WsClient::connect(port);
    WsClient b = WsClient::connect(port);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(a.send("x") && a.next() && b.send("y") && b.next());  // both are open now
    EXPECT_EQ(open_now(), 2u);
    EXPECT_EQ(app.metrics().upgrades, 2u);
    a.send_close(1000);
    a.until_closed();
    for (int i = 0; i < 200 && open_now() != 1; ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(open_now(), 1u);
    EXPECT_EQ(app.metrics().upgrades, 2u);
    EXPECT_GE(app.metrics().open_connections, 1u);
  });
}

TEST(WsServer, BadHandshakesAreRefused) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    const std::string up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    struct Case {
      std::string headers;
      int status;
    } cases[] = {
        {"", 400},
        {up + "Sec-WebSocket-Version: 13\r\n", 400},
        {up + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short==\r\n", 400},
        {up + "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 426},
        {"Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
         400},
    };
    for (const Case& k : cases) {
      RawClient c = RawClient::tcp(port);
      ASSERT_TRUE(c.send(get_request("/ws", k.headers)));
      auto res = c.read_response();
      ASSERT_TRUE(res) << c.error();
      EXPECT_EQ(res->status, k.status) << k.headers;
      if (k.status == 426) {
        EXPECT_EQ(res->header("sec-websocket-version"), "13");
      }
    }
  });
}

TEST(WsServer, SubprotocolIsChosenFromTheAllowedList) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    WsClient a =
        WsClient::connect(port, "/ws-proto", "Sec-WebSocket-Protocol: x, chat.v1, chat.v2\r\n");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a.handshake().header("sec-websocket-protocol"), "chat.v1");
    WsClient b = WsClient::connect(port, "/ws-proto", "Sec-WebSocket-Protocol: x\r\n");
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b.handshake().header("sec-websocket-protocol"));
    WsClient c = WsClient::connect(port, "/ws", "Sec-WebSocket-Protocol: any.one, two\r\n");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.handshake().header("sec-websocket-protocol"), "any.one");
  });
}

TEST(WsServer, FramesSentWithTheHandshakeAreRead) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    RawClient raw = RawClient::tcp(port);
    std::string req =
        get_request("/ws",
                    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
    ASSERT_TRUE(raw.send(req + ws::testing::raw_frame("early")));
    auto res = raw.read_response(true);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 101);
    std::string rest(raw.buffered());
    const std::string want =
        "\x81\x05"
        "early";
    while (rest.size() < want.size()) {
      std::string more = raw.read_some(2000ms);
      if (more.empty()) break;
      rest += more;
    }
    EXPECT_EQ(rest, want);
  });
}

TEST(WsServer, ConformanceTableOverSockets) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    std::size_t ran = 0;
    for (const auto& c : ws::testing::conformance_cases()) {
      SCOPED_TRACE(c.name);
      ++ran;
      WsClient client = WsClient::connect(port, c.max_message_size ? "/ws-small" : "/ws");
      ASSERT_TRUE(client.ok());
      bool client_closes = false;
      const std::vector<std::string> want = expected_replies(c, client_closes);
      ASSERT_TRUE(client.send_raw(c.input));
      if (client_closes) {
        ASSERT_TRUE(client.send_close(1000));
      }
      EXPECT_EQ(client.until_closed(), want) << client.error;
      // Then the server ends the TCP connection (it closes first: RFC 6455 §7.1.1).
      EXPECT_FALSE(client.next(2000ms));
      EXPECT_EQ(client.error, "eof");
    }
    EXPECT_GT(ran, 100u);
  });
}

TEST(WsServer, OneCaseSentByteByByte) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    WsClient client = WsClient::connect(port);
    ASSERT_TRUE(client.ok());
    std::string input = ws::testing::raw_frame("Hel", {.fin = false}) +
                        ws::testing::raw_frame("p", {.opcode = 0x9}) +
                        ws::testing::raw_frame("lo", {.opcode = 0});
    ASSERT_TRUE(client.raw().send_bytewise(input));
    ASSERT_TRUE(client.send_close(1000));
    EXPECT_EQ(client.until_closed(),
              (std::vector<std::string>{"pong:p", "text:Hello", "close:1000"}));
  });
}

TEST(WsServer, UpgradeHookGivesUserValueAndParamsOrRefuses) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    RawClient refused = RawClient::tcp(port);
    ASSERT_TRUE(refused.send(
        get_request("/room/a",
                    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")));
    auto res = refused.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    WsClient c = WsClient::connect(port, "/room/lobby", "X-Token: alice\r\n");
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send("whoami"));
    auto e = c.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->str(), "text:alice@lobby");
  });
}

TEST(WsServer, ServerCloseWithCodeAndReason) {
  with_server([](std::uint16_t port, ws::App&, Recorded& rec) {
    WsClient c = WsClient::connect(port, "/room/r", "X-Token: t\r\n");
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send("close-me"));
    auto e = c.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->str(), "close:4000");
    EXPECT_EQ(e->payload, "bye");
    ASSERT_TRUE(c.send_close(4000, "ok"));
    EXPECT_FALSE(c.next());
    EXPECT_EQ(c.error, "eof");
    c.raw().close();
    for (int i = 0; i < 100 && rec.get().empty(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(rec.get(), std::vector<std::string>{"4000:ok"});
  });
}

// The peer never answers our close: the connection is closed after close_timeout (1006).
TEST(WsServer, CloseTimeoutWhenThePeerNeverAnswers) {
  with_server([](std::uint16_t port, ws::App&, Recorded& rec) {
    WsClient c = WsClient::connect(port, "/room/r", "X-Token: t\r\n");
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send("close-me"));
    const auto start = Clock::now();
    auto e = c.next();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->str(), "close:4000");
    EXPECT_EQ(c.raw().wait_closed(3000ms), CloseKind::eof);
    const auto took = std::chrono::duration_cast<Ms>(Clock::now() - start);
    EXPECT_GE(took.count(), 150);
    EXPECT_LT(took.count(), 2000);
    for (int i = 0; i < 100 && rec.get().empty(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(rec.get(), std::vector<std::string>{"1006:"});
  });
}

TEST(WsServer, PeerCloseIsReportedWithCodeAndReason) {
  with_server([](std::uint16_t port, ws::App&, Recorded& rec) {
    WsClient c = WsClient::connect(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_close(4321, "done here"));
    EXPECT_EQ(c.until_closed(), std::vector<std::string>{"close:4321"});
    EXPECT_FALSE(c.next());
    c.raw().close();
    for (int i = 0; i < 100 && rec.get().empty(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(rec.get(), std::vector<std::string>{"4321:done here"});
  });
}

TEST(WsServer, ThrowingCallbackClosesWith1011) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    WsClient c = WsClient::connect(port, "/room/r", "X-Token: t\r\n");
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send("throw"));
    EXPECT_EQ(c.until_closed(), std::vector<std::string>{"close:1011"});
  });
}

TEST(WsServer, GracefulServerCloseSendsGoingAway) {
  with_server([](std::uint16_t port, ws::App& app, Recorded&) {
    WsClient c = WsClient::connect(port);
    ASSERT_TRUE(c.ok());
    app.loop().post([&app] { app.close(std::chrono::seconds(2)); });
    EXPECT_EQ(c.until_closed(), std::vector<std::string>{"close:1001"});
    ASSERT_TRUE(c.send_close(1001));
    EXPECT_FALSE(c.next());
    EXPECT_EQ(c.error, "eof");
  });
}

TEST(WsServer, PublishReachesEverySubscriberOnce) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    std::vector<WsClient> subs;
    for (int i = 0; i < 5; ++i) {
      subs.push_back(
          WsClient::connect(port, i < 4 ? "/room/news" : "/room/other", "X-Token: t\r\n"));
      ASSERT_TRUE(subs.back().ok());
    }
    ASSERT_TRUE(subs[0].send("pub:hello all"));
    for (int i = 0; i < 4; ++i) {
      auto e = subs[static_cast<std::size_t>(i)].next();
      ASSERT_TRUE(e);
      EXPECT_EQ(e->str(), "text:hello all");
      EXPECT_FALSE(subs[static_cast<std::size_t>(i)].next(50ms));
    }
    EXPECT_FALSE(subs[4].next(100ms));  // another topic
  });
}

}  // namespace
}  // namespace weft::itest

namespace weft::itest {
namespace {

// Two loops (workers = 2): subscribers land on both; one publish reaches all of them.
TEST(WsServer, PublishReachesSubscribersOnEveryLoop) {
  http::ServerOptions options;
  options.workers = 2;
  with_server(
      [](std::uint16_t port, ws::App& app, Recorded& rec) {
        std::vector<WsClient> subs;
        for (int i = 0; i < 12; ++i) {
          subs.push_back(WsClient::connect(port, "/room/all", "X-Token: t\r\n"));
          ASSERT_TRUE(subs.back().ok());
        }
        for (int i = 0; i < 100 && app.ws_stats().open < 12; ++i) std::this_thread::sleep_for(5ms);
        EXPECT_EQ(rec.loop_count(), 2u) << "the kernel put every connection on one loop";
        ASSERT_TRUE(subs[0].send("pub:to every loop"));
        for (auto& s : subs) {
          auto e = s.next();
          ASSERT_TRUE(e) << s.error;
          EXPECT_EQ(e->str(), "text:to every loop");
        }
        // And from a thread that is no loop's: posted to each loop.
        EXPECT_EQ(app.publish("all", "from outside"), 0u);
        for (auto& s : subs) {
          auto e = s.next();
          ASSERT_TRUE(e) << s.error;
          EXPECT_EQ(e->str(), "text:from outside");
        }
      },
      options);
}

}  // namespace
}  // namespace weft::itest

namespace weft::itest {
namespace {

// permessage-deflate over a socket: our compressed message is inflated and echoed
// compressed (RSV1), a small one goes uncompressed, the figures are printed.
TEST(WsServer, DeflateCompressesBothWays) {
  with_server([](std::uint16_t port, ws::App&, Recorded&) {
    WsClient c = WsClient::connect(
        port, "/ws-deflate",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.handshake().header("sec-websocket-extensions"),
              "permessage-deflate; server_no_context_takeover; client_max_window_bits=15");
    std::string message;
    for (int i = 0; i < 200; ++i)
      message += R"({"id":)" + std::to_string(i) + R"(,"name":"weft","ok":true},)";
    ws::Deflater d(15);
    std::string z;
    d.compress(message, z);
    ASSERT_TRUE(c.send_raw(ws::testing::raw_frame(z, {.rsv = 0x40})));
    auto e = c.next();
    ASSERT_TRUE(e) << c.error;
    EXPECT_TRUE(e->compressed);
    EXPECT_EQ(e->payload, message);
    EXPECT_LT(e->wire_size * 4, message.size());
    std::printf(
        "permessage-deflate: %zu-byte JSON message: %zu bytes from the client, %zu from "
        "the server; decompressor per connection ~%zu KiB (window 15)\n",
        message.size(), z.size(), e->wire_size, ws::Inflater::memory(15) / 1024);
    ASSERT_TRUE(c.send("small"));
    auto small = c.next();
    ASSERT_TRUE(small);
    EXPECT_FALSE(small->compressed) << "below min_size: sent as is";
    EXPECT_EQ(small->payload, "small");
    // Corrupt compressed data: 1007.
    ASSERT_TRUE(c.send_raw(ws::testing::raw_frame("\xff\xff\xff\xff junk", {.rsv = 0x40})));
    EXPECT_EQ(c.until_closed(), std::vector<std::string>{"close:1007"});
  });
}

}  // namespace
}  // namespace weft::itest
