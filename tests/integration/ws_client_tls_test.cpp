// The WebSocket client over TLS (wss://) against weft's own ws::App serving HTTPS:
// messages both ways with the test CA pinned (ca_file), the certificate checks that must
// fail (an unknown CA, a name the certificate does not carry), verify_tls = false, and a
// plain ws:// client refused by the TLS port. Certificates are made at test time.
#include "support/loop_testing.hpp"
#include "support/tls_certs.hpp"

#include <weft/tls/error.hpp>
#include <weft/ws/app.hpp>
#include <weft/ws/client.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <unistd.h>

namespace weft::itest {
namespace {

using ws::Opcode;

struct TlsFixture {
  testing::TestCa ca;
  std::string dir;
  Loop loop;
  std::optional<ws::App> app;
  std::string host_port;  // 127.0.0.1:<port>

  // The server's certificate names `names` and is signed by `ca`.
  explicit TlsFixture(const std::vector<std::string>& names = {"localhost", "127.0.0.1"}) {
    char tmpl[] = "/tmp/weft-wss-XXXXXX";
    dir = ::mkdtemp(tmpl);
    testing::write_file(dir + "/ca.pem", ca.cert_pem());
    const testing::Pem leaf = ca.issue(names);
    tls::ServerConfig cfg;
    cfg.certificates = {
        {.cert_file = {}, .key_file = {}, .cert_pem = leaf.cert, .key_pem = leaf.key}};
    http::ServerOptions options;
    options.tls = tls::Context::server(cfg);
    app.emplace(loop, options);
    app->ws("/echo", {.message = [](ws::WebSocket& s, std::string_view m, Opcode op) {
              if (m == "close-me") return s.close(4000, "as asked");
              s.send(m, op);
            }});
    EXPECT_FALSE(app->listen(0, "127.0.0.1"));
    host_port = "127.0.0.1:" + std::to_string(app->port());
  }
  ~TlsFixture() { std::system(("rm -rf " + dir).c_str()); }

  ws::ConnectOptions pinned() const {
    ws::ConnectOptions o;
    o.ca_file = dir + "/ca.pem";
    o.timeout = std::chrono::seconds(5);
    return o;
  }
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

TEST(WsClientTls, MessagesBothWaysOverWss) {
  TlsFixture f;
  f.run([&]() -> Task<void> {
    ws::ConnectOptions o = f.pinned();
    auto c = co_await ws::connect("wss://" + f.host_port + "/echo", o);
    EXPECT_TRUE(c->is_secure());
    std::mt19937 rng(11);
    for (int i = 0; i < 200; ++i) {
      const std::size_t n =
          std::uniform_int_distribution<std::size_t>(0, i % 40 == 0 ? 100000 : 2000)(rng);
      std::string m(n, '\0');
      for (char& ch : m) ch = static_cast<char>('a' + rng() % 26);
      c->send(m, i % 2 ? Opcode::binary : Opcode::text);
      auto back = co_await c->receive();
      EXPECT_TRUE(back.has_value());
      if (!back) break;
      EXPECT_EQ(back->data, m);
      EXPECT_EQ(back->op, i % 2 ? Opcode::binary : Opcode::text);
    }
    c->send("close-me");
    auto end = co_await c->receive();
    EXPECT_FALSE(end.has_value());
    EXPECT_EQ(c->close_code(), 4000);
    EXPECT_EQ(c->close_reason(), "as asked");
  });
}

TEST(WsClientTls, ClientInitiatedCloseOverWss) {
  TlsFixture f;
  f.run([&]() -> Task<void> {
    ws::ConnectOptions o = f.pinned();
    auto c = co_await ws::connect("wss://localhost:" + std::to_string(f.app->port()) + "/echo", o);
    c->send("one");
    auto m = co_await c->receive();
    EXPECT_TRUE(m && m->data == "one");
    c->close(1000, "done");
    auto end = co_await c->receive();
    EXPECT_FALSE(end.has_value());
    EXPECT_EQ(c->close_code(), 1000);
  });
}

// What a failed connect throws, as "<category>: <message>" ("" when it did not fail).
Task<std::string> connect_error(std::string url, ws::ConnectOptions o) {
  try {
    auto c = co_await ws::connect(std::move(url), std::move(o));
  } catch (const std::system_error& e) {
    co_return std::string(e.code().category().name()) + ": " + e.what();
  } catch (const std::exception& e) {
    co_return std::string("other: ") + e.what();
  }
  co_return "";
}

TEST(WsClientTls, CertificateChecksFailClearly) {
  TlsFixture f({"b.test"});  // the certificate does not name 127.0.0.1
  f.run([&]() -> Task<void> {
    const std::string url = "wss://" + f.host_port + "/echo";
    // Pinned CA, wrong name: the name check fails.
    ws::ConnectOptions pinned = f.pinned();
    const std::string mismatch = co_await connect_error(url, pinned);
    EXPECT_NE(mismatch.find("weft.tls.verify"), std::string::npos) << mismatch;
    EXPECT_NE(mismatch.find("mismatch"), std::string::npos) << mismatch;
    // The system store does not know the test CA.
    ws::ConnectOptions system_store;
    system_store.timeout = std::chrono::seconds(5);
    const std::string unknown = co_await connect_error(url, system_store);
    EXPECT_NE(unknown.find("weft.tls.verify"), std::string::npos) << unknown;
    // verify_tls = false accepts it.
    ws::ConnectOptions insecure;
    insecure.verify_tls = false;
    auto c = co_await ws::connect(url, insecure);
    c->send("x");
    auto m = co_await c->receive();
    EXPECT_TRUE(m && m->data == "x");
    c->close();
    (void)co_await c->receive();
    // A missing CA file is a clear configuration error, not a hang.
    ws::ConnectOptions missing;
    missing.ca_file = f.dir + "/no-such.pem";
    const std::string no_file = co_await connect_error(url, missing);
    EXPECT_NE(no_file.find("no-such.pem"), std::string::npos) << no_file;
  });
}

TEST(WsClientTls, PlainClientAgainstTlsPortFailsAndBadSchemeIsRefused) {
  TlsFixture f;
  f.run([&]() -> Task<void> {
    ws::ConnectOptions o;
    o.timeout = std::chrono::seconds(2);
    const std::string plain = co_await connect_error("ws://" + f.host_port + "/echo", o);
    EXPECT_FALSE(plain.empty());
    bool invalid = false;
    try {
      auto c = co_await ws::connect("https://" + f.host_port + "/echo");
    } catch (const std::invalid_argument&) {
      invalid = true;
    }
    EXPECT_TRUE(invalid);
  });
}

}  // namespace
}  // namespace weft::itest
