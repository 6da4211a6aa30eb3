// HttpClientTls.*: https through weft's tls layer against weft's own HTTPS server and raw
// TLS peers: verification (default on, a pinned CA, off), OpenSSL's reasons in the errors,
// session resumption per origin, https -> http redirects refused, peers that close or cut
// a record mid-handshake; HTTP proxies (CONNECT tunnels, absolute-form requests) through a
// small proxy written for the test. Certificates are made at test time; loopback only.
#include <gtest/gtest.h>
#include <weft/async.hpp>
#include <weft/http/client.hpp>
#include <weft/http/server.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>
#include <weft/tls/connect.hpp>

#include <poll.h>

#include <cstdlib>

#include "http_client/internal.hpp"
#include "support/loop_testing.hpp"
#include "support/tls_certs.hpp"
#include "unit/http_client/raw_server.hpp"

namespace weft::http::ctest {
namespace {

using namespace std::chrono_literals;
using weft::testing::Pem;
using weft::testing::TestCa;

struct Dir {
  Dir() {
    char tmpl[] = "/tmp/weft-client-tls-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~Dir() { std::system(("rm -rf " + path).c_str()); }
  std::string file(const std::string& name, const std::string& text) const {
    weft::testing::write_file(path + "/" + name, text);
    return path + "/" + name;
  }
  std::string path;
};

tls::Context server_ctx(const Pem& p) {
  tls::ServerConfig c;
  c.certificates.push_back({.cert_file = {}, .key_file = {}, .cert_pem = p.cert, .key_pem = p.key});
  return tls::Context::server(c);
}

// weft's HTTPS server on the test's loop, for `leaf`.
class HttpsServer {
 public:
  HttpsServer(Loop& loop, const Pem& leaf, Duration keep_alive = std::chrono::seconds(5))
      : server_(loop, options(leaf, keep_alive)) {
    server_.get("/hello", [](Request&) { return Response::text("Hello, World!"); });
    server_.get("/to-http", [this](Request&) {
      return Response::redirect("http://127.0.0.1:" + std::to_string(server_.port()) + "/hello");
    });
    EXPECT_FALSE(server_.listen(0, "127.0.0.1"));
  }
  std::string url(std::string_view path, std::string_view host = "localhost") const {
    return "https://" + std::string(host) + ":" + std::to_string(server_.port()) +
           std::string(path);
  }
  std::uint16_t port() const { return server_.port(); }
  void close() { server_.close(); }

 private:
  static ServerOptions options(const Pem& leaf, Duration keep_alive) {
    ServerOptions o;
    o.tls = server_ctx(leaf);
    o.keep_alive_timeout = keep_alive;
    return o;
  }
  Server server_;
};

// Runs one fetch + text() and returns the body or "error <kind>: <message>".
Task<std::string> get(Client& client, std::string url) {
  try {
    ClientResponse res = co_await client.fetch(std::move(url));
    std::string body = co_await res.text();
    co_return body;
  } catch (const FetchError& e) {
    co_return "error " + std::string(to_string(e.kind())) + ": " + e.what();
  }
}

bool contains(const std::string& hay, std::string_view needle) {
  return hay.find(needle) != std::string::npos;
}

TEST(HttpClientTls, VerifiesWithAPinnedCaAndResumesSessions) {
  Loop loop;
  TestCa ca;
  Dir dir;
  {
    HttpsServer server(loop, ca.issue({"localhost", "127.0.0.1"}));
    ClientOptions co;
    co.ca_file = dir.file("ca.pem", ca.cert_pem());
    co.max_idle_per_origin = 0;  // every fetch opens a connection: each one can resume
    Client client(loop, co);
    run_until_complete(loop, [&]() -> Task<void> {
      for (int i = 0; i < 3; ++i) {
        std::string body = co_await get(client, server.url("/hello"));
        EXPECT_EQ(body, "Hello, World!");
      }
      std::string by_ip =
          co_await get(client, server.url("/hello", "127.0.0.1"));  // checked as an address
      EXPECT_EQ(by_ip, "Hello, World!");
      server.close();
    }());
    EXPECT_EQ(client.connections_opened(), 4u);
    EXPECT_EQ(client.tls_sessions_resumed(),
              2u);  // the 2nd and 3rd to localhost; the IP is another origin
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientTls, KeepAliveOverTlsAndNoResumptionWhenOff) {
  Loop loop;
  TestCa ca;
  Dir dir;
  {
    HttpsServer server(loop, ca.issue({"localhost"}));
    ClientOptions co;
    co.ca_file = dir.file("ca.pem", ca.cert_pem());
    Client pooled(loop, co);
    co.max_idle_per_origin = 0;
    co.tls_session_reuse = false;
    Client fresh(loop, co);
    run_until_complete(loop, [&]() -> Task<void> {
      for (int i = 0; i < 5; ++i) {
        std::string a = co_await get(pooled, server.url("/hello"));
        EXPECT_EQ(a, "Hello, World!");
        std::string b = co_await get(fresh, server.url("/hello"));
        EXPECT_EQ(b, "Hello, World!");
      }
      server.close();
    }());
    EXPECT_EQ(pooled.connections_opened(), 1u);
    EXPECT_EQ(fresh.connections_opened(), 5u);
    EXPECT_EQ(fresh.tls_sessions_resumed(), 0u);
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

// The server closes idle TLS connections after 50 ms: a pooled one found closed is retried
// once on a new connection (which resumes the session).
TEST(HttpClientTls, StalePooledTlsConnectionIsRetried) {
  Loop loop;
  TestCa ca;
  Dir dir;
  {
    HttpsServer server(loop, ca.issue({"localhost"}), 50ms);
    ClientOptions co;
    co.ca_file = dir.file("ca.pem", ca.cert_pem());
    Client client(loop, co);
    run_until_complete(loop, [&]() -> Task<void> {
      for (int i = 0; i < 3; ++i) {
        std::string body = co_await get(client, server.url("/hello"));
        EXPECT_EQ(body, "Hello, World!");
        co_await weft::sleep(150ms);
      }
      server.close();
    }());
    EXPECT_EQ(client.connections_opened(), 3u);
    EXPECT_EQ(client.tls_sessions_resumed(), 2u);
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

// The error for a server presenting `leaf` to a client with `co`, fetching `host`.
std::string failure(const Pem& leaf, ClientOptions co, const char* host = "localhost") {
  Loop loop;
  std::string out;
  {
    HttpsServer server(loop, leaf);
    Client client(loop, co);
    run_until_complete(loop, [&]() -> Task<void> {
      out = co_await get(client, server.url("/hello", host));
      server.close();
    }());
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
  return out;
}

TEST(HttpClientTls, VerifyFailuresCarryOpenSslsReason) {
  TestCa ca;
  Dir dir;
  ClientOptions pinned;
  pinned.ca_file = dir.file("ca.pem", ca.cert_pem());
  std::string expired = failure(ca.issue({"localhost"}, -7200, -3600), pinned);
  EXPECT_TRUE(contains(expired, "error tls: TLS certificate of localhost:")) << expired;
  EXPECT_TRUE(contains(expired, "certificate has expired")) << expired;
  std::string mismatch = failure(ca.issue({"other.test"}), pinned);
  EXPECT_TRUE(contains(mismatch, "hostname mismatch")) << mismatch;
  std::string self = failure(TestCa::self_signed({"localhost"}), pinned);
  EXPECT_TRUE(contains(self, "self-signed certificate")) << self;
  // Verification is on by default: the system store does not know the test CA.
  std::string system_store = failure(ca.issue({"localhost"}), ClientOptions{});
  EXPECT_TRUE(contains(system_store, "unable to get local issuer certificate")) << system_store;
  ClientOptions insecure;
  insecure.verify_tls = false;
  EXPECT_EQ(failure(TestCa::self_signed({"other.test"}), insecure), "Hello, World!");
  ClientOptions missing;
  missing.ca_file = dir.path + "/nonexistent.pem";
  std::string no_file = failure(ca.issue({"localhost"}), missing);
  EXPECT_TRUE(contains(no_file, "error tls: ") && contains(no_file, "nonexistent.pem")) << no_file;
}

TEST(HttpClientTls, RedirectFromHttpsToHttpIsRefused) {
  TestCa ca;
  Dir dir;
  ClientOptions co;
  co.ca_file = dir.file("ca.pem", ca.cert_pem());
  Loop loop;
  {
    HttpsServer server(loop, ca.issue({"localhost"}));
    Client client(loop, co);
    run_until_complete(loop, [&]() -> Task<void> {
      std::string r = co_await get(client, server.url("/to-http"));
      EXPECT_TRUE(contains(
          r, "error redirect_refused: refusing a redirect from https to http://127.0.0.1:"))
          << r;
      server.close();
    }());
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

// Reads until the ClientHello has arrived (some bytes, then 50 ms of quiet).
void read_hello(RawConn& c) {
  char buf[4096];
  pollfd p{c.fd(), POLLIN, 0};
  while (::poll(&p, 1, 50) > 0) {
    if (::recv(c.fd(), buf, sizeof buf, 0) <= 0) return;
  }
}

TEST(HttpClientTls, MisbehavingPeersFailClearlyWithoutHanging) {
  RawServer closes([](RawConn& c, int) { read_hello(c); });  // FIN mid-handshake
  RawServer truncates([](RawConn& c, int) {
    read_hello(c);
    c.send(std::string("\x16\x03\x03\x00\x64", 5) +
           std::string(10, '\x02'));  // 100 announced, 10 sent
  });
  RawServer garbage([](RawConn& c, int) {
    read_hello(c);
    c.send("HTTP/1.1 400 Bad Request\r\n\r\n");  // a plain-HTTP server on the https port
  });
  RawServer silent([](RawConn& c, int) {
    read_hello(c);
    c.peer_closed();  // waits for the client to give up
  });
  Loop loop;
  auto client_owner = std::make_unique<Client>(loop);
  Client& client = *client_owner;
  auto https = [](const RawServer& s) {
    return "https://127.0.0.1:" + std::to_string(s.port()) + "/";
  };
  run_until_complete(loop, [&]() -> Task<void> {
    std::string a = co_await get(client, https(closes));
    EXPECT_TRUE(contains(a, "error tls: TLS handshake with 127.0.0.1:")) << a;
    EXPECT_TRUE(contains(a, "the server closed the connection during the handshake")) << a;
    std::string b = co_await get(client, https(truncates));
    EXPECT_TRUE(contains(b, "error tls: TLS handshake with")) << b;
    std::string c = co_await get(client, https(garbage));
    EXPECT_TRUE(contains(c, "error tls: ") && contains(c, "wrong version number")) << c;
    FetchOptions quick;
    quick.timeouts.connect = 200ms;
    std::string d;
    try {
      ClientResponse res = co_await client.fetch(https(silent), quick);
    } catch (const FetchError& e) {
      d = std::string(to_string(e.kind())) + ": " + e.what();
    }
    EXPECT_TRUE(contains(d, "timeout: connect timeout (200 ms) expired in the TLS handshake")) << d;
  }());
  EXPECT_EQ(client.connections(), 0u);
  client_owner.reset();
  loop.run();
  weft::testing::expect_clean_close(loop);
}

// tls::connect() on its own: a handshake, data, and a resumed second session.
TEST(HttpClientTls, TlsConnectAwaitableResumes) {
  Loop loop;
  TestCa ca;
  Dir dir;
  {
    HttpsServer server(loop, ca.issue({"localhost"}));
    tls::ClientConfig cc;
    cc.ca_file = dir.file("ca.pem", ca.cert_pem());
    tls::Context ctx = tls::Context::client(cc);
    run_until_complete(loop, [&]() -> Task<void> {
      tls::Session session;
      for (int i = 0; i < 2; ++i) {
        tls::ConnectOptions o;
        o.session = session;
        std::unique_ptr<tls::Stream> s =
            co_await tls::connect(loop, "localhost", server.port(), ctx, o);
        EXPECT_EQ(s->session_reused(), i == 1);
        co_await s->write_all(
            "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        std::string got;
        co_await s->read_until(got, "Hello, World!", 4096);
        EXPECT_TRUE(contains(got, "200 OK")) << got;
        session = s->session();
        EXPECT_TRUE(static_cast<bool>(session));
        s->close();
      }
      bool refused = false;
      try {
        std::unique_ptr<tls::Stream> s = co_await tls::connect(loop, "127.0.0.1", 1, ctx);
      } catch (const std::system_error& e) {
        refused = e.code() == std::errc::connection_refused;
      }
      EXPECT_TRUE(refused);
      server.close();
    }());
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::http::ctest
