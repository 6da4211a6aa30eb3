// The WebSocket client (co_await ws::connect) against weft's own server on the same loop:
// random messages byte for byte, both closing directions, refused handshakes, bad URLs.
#include "support/loop_testing.hpp"

#include <weft/ws/app.hpp>
#include <weft/ws/client.hpp>

#include <gtest/gtest.h>

#include <random>

namespace weft::itest {
namespace {

using ws::Opcode;

struct Fixture {
  Loop loop;
  std::optional<ws::App> app;
  std::vector<std::string> server_closes;
  std::string url;

  Fixture() {
    app.emplace(loop);
    app->ws("/echo", {.message =
                          [](ws::WebSocket& s, std::string_view m, Opcode op) {
                            if (m == "close-me") return s.close(4000, "as asked");
                            s.send(m, op);
                          },
                      .close =
                          [this](ws::WebSocket&, std::uint16_t c, std::string_view r) {
                            server_closes.push_back(std::to_string(c) + ":" + std::string(r));
                          }});
    ws::Options z;
    z.compression.enabled = true;
    app->ws("/zecho",
            {.message = [](ws::WebSocket& s, std::string_view m, Opcode op) { s.send(m, op); },
             .options = z});
    EXPECT_FALSE(app->listen(0, "127.0.0.1"));
    url = "ws://127.0.0.1:" + std::to_string(app->port());
  }
  // Runs the client, then closes the server and checks the loop closes clean.
  template <class F>
  void run(F client) {
    run_until_complete(loop, [&]() -> Task<void> {
      co_await client();
      app->close(std::chrono::milliseconds(100));
    }());
    loop.run();
    app.reset();
    weft::testing::expect_clean_close(loop);
  }
};

TEST(WsClient, RandomMessagesEchoedByteForByte) {
  Fixture f;
  f.run([&]() -> Task<void> {
    auto c = co_await ws::connect(f.url + "/echo");
    std::mt19937 rng(7);
    for (int i = 0; i < 1000; ++i) {
      const std::size_t n =
          std::uniform_int_distribution<std::size_t>(0, i % 50 == 0 ? 200000 : 3000)(rng);
      std::string m(n, '\0');
      const bool text = i % 2 == 0;
      for (char& ch : m) ch = text ? static_cast<char>('a' + rng() % 26) : static_cast<char>(rng());
      c->send(m, text ? Opcode::text : Opcode::binary);
      auto got = co_await c->receive();
      EXPECT_TRUE(got);
      if (!got) break;
      EXPECT_EQ(got->op, text ? Opcode::text : Opcode::binary);
      EXPECT_TRUE(got->data == m) << "message " << i << " of " << n << " bytes";
    }
    c->close(1000, "done");
    auto end = co_await c->receive();
    EXPECT_FALSE(end);
    EXPECT_EQ(c->close_code(), 1000);
    EXPECT_EQ(c->close_reason(), "done");
  });
  EXPECT_EQ(f.server_closes, std::vector<std::string>{"1000:done"});
}

TEST(WsClient, PermessageDeflateBothWays) {
  Fixture f;
  f.run([&]() -> Task<void> {
    ws::ConnectOptions opts;
    opts.compression.enabled = true;
    auto c = co_await ws::connect(f.url + "/zecho", opts);
    std::mt19937 rng(9);
    for (int i = 0; i < 300; ++i) {
      std::string m(rng() % (i % 30 == 0 ? 100000 : 2000), '\0');
      for (char& ch : m) ch = static_cast<char>('a' + rng() % 6);
      c->send(m, Opcode::binary);
      auto got = co_await c->receive();
      EXPECT_TRUE(got && got->data == m) << "message " << i;
      if (!got) break;
    }
    c->close();
    EXPECT_FALSE(co_await c->receive());
    EXPECT_EQ(c->close_code(), 1000);
  });
}

TEST(WsClient, ServerInitiatedCloseEndsReceive) {
  Fixture f;
  f.run([&]() -> Task<void> {
    auto c = co_await ws::connect(f.url + "/echo");
    std::vector<std::string> seen;
    c->on_close([&](std::uint16_t code, std::string_view reason) {
      seen.push_back(std::to_string(code) + ":" + std::string(reason));
    });
    c->send("close-me");
    auto m = co_await c->receive();
    EXPECT_FALSE(m);
    EXPECT_EQ(c->close_code(), 4000);
    EXPECT_EQ(seen, std::vector<std::string>{"4000:as asked"});
  });
  EXPECT_EQ(f.server_closes, std::vector<std::string>{"4000:as asked"});
}

TEST(WsClient, CallbackFormReceivesMessages) {
  Fixture f;
  f.run([&]() -> Task<void> {
    auto c = co_await ws::connect(f.url + "/echo");
    std::vector<std::string> got;
    c->on_message([&](std::string_view m, Opcode) {
      got.emplace_back(m);
      if (got.size() == 3) c->close();
    });
    c->send("a");
    c->send("b");
    c->send("c");
    EXPECT_FALSE(co_await c->receive());
    EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  });
}

TEST(WsClient, RefusedHandshakeAndBadUrls) {
  Fixture f;
  f.run([&]() -> Task<void> {
    int status = -1;
    try {
      auto c = co_await ws::connect(f.url + "/nowhere");
    } catch (const ws::HandshakeError& e) {
      status = e.status();
    }
    EXPECT_EQ(status, 404);
    bool invalid = false;
    try {
      auto c = co_await ws::connect("http://127.0.0.1:1/x");
    } catch (const std::invalid_argument&) {
      invalid = true;
    }
    EXPECT_TRUE(invalid);
    bool refused = false;
    try {
      auto c = co_await ws::connect("ws://127.0.0.1:1/x");
    } catch (const std::system_error& e) {
      refused = e.code() == std::errc::connection_refused;
    }
    EXPECT_TRUE(refused);
  });
}

}  // namespace
}  // namespace weft::itest
