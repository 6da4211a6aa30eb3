// tls::Stream against tls::Stream over loopback: handshakes (inline and on the pool),
// verification failures with OpenSSL's words, SNI, ALPN, close_notify, backpressure,
// timeouts, the handshake limit, garbage and truncated input, reload, coroutines.
#include "support/loop_testing.hpp"
#include "support/tls_certs.hpp"
#include "unit/net/net_test_util.hpp"

#include <weft/tls/context.hpp>
#include <weft/tls/stats.hpp>
#include <weft/tls/stream.hpp>

#include <sys/socket.h>

using namespace weft;
using namespace weft::net::test;
using weft::testing::Pem;
using weft::testing::TestCa;

namespace {

tls::ServerConfig server_config(const std::vector<Pem>& certs, bool on_pool = true) {
  tls::ServerConfig c;
  for (const Pem& p : certs)
    c.certificates.push_back(
        {.cert_file = {}, .key_file = {}, .cert_pem = p.cert, .key_pem = p.key});
  c.handshake_on_pool = on_pool;
  c.handshake_inline_when_idle = false;  // on_pool: every signing step on the pool
  return c;
}

tls::Context client_for(const TestCa& ca, const std::string& dir) {
  const std::string path = dir + "/ca.pem";
  weft::testing::write_file(path, ca.cert_pem());
  tls::ClientConfig c;
  c.ca_file = path;
  return tls::Context::client(c);
}

std::string temp_dir() {
  char tmpl[] = "/tmp/weft-tls-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? d : "/tmp";
}

// A TLS echo server: every accepted stream echoes and answers close_notify with its own.
class TlsEcho {
 public:
  TlsEcho(Loop& loop, tls::Context ctx) : loop_(loop), ctx_(std::move(ctx)), listener_(loop) {
    EXPECT_FALSE(listener_.listen(net::SocketAddress::ipv4_loopback(0),
                                  [this](net::Socket s) { accept(std::move(s)); }));
  }
  std::uint16_t port() const { return listener_.local_address().port(); }
  std::vector<std::unique_ptr<tls::Stream>>& streams() { return streams_; }
  std::vector<std::error_code> errors;
  void close_all() {
    listener_.close();
    for (auto& s : streams_) s->close();
  }

 private:
  void accept(net::Socket s) {
    auto stream = std::make_unique<tls::Stream>(loop_, std::move(s), ctx_);
    tls::Stream* p = stream.get();
    (void)p->read_start([p](std::span<char> d) {
      p->write(std::string_view(d.data(), d.size()));
      return d.size();
    });
    p->on_end([p] { p->shutdown(net::WriteCallback{}); });
    p->on_error([this](std::error_code ec) { errors.push_back(ec); });
    streams_.push_back(std::move(stream));
  }
  Loop& loop_;
  tls::Context ctx_;
  net::Listener listener_;
  std::vector<std::unique_ptr<tls::Stream>> streams_;
};

// Connects a client, sends `msg`, sends close_notify, and collects the echo.
struct Exchange {
  std::error_code connect_ec;
  bool connected = false, ended = false;
  std::string echoed;
};

Exchange round_trip(Loop& loop, tls::Stream& client, const std::string& host, std::uint16_t port,
                    const std::string& msg) {
  Exchange x;
  client.connect(host, port, [&](std::error_code ec) {
    x.connect_ec = ec;
    x.connected = true;
  });
  (void)client.read_start([&](std::span<char> d) {
    x.echoed += to_string(d);
    return d.size();
  });
  client.on_end([&] { x.ended = true; });
  client.on_error([&](std::error_code ec) {
    x.connect_ec = ec;
    x.connected = true;
  });
  client.write(msg);
  client.shutdown(net::WriteCallback{});
  run_until(loop, [&] { return x.ended || (x.connected && x.connect_ec); });
  return x;
}

class TlsStreamTest : public ::testing::TestWithParam<bool> {};

}  // namespace

TEST_P(TlsStreamTest, EchoOverTls13WithAlpnAndCloseNotify) {
  Loop loop;
  TestCa ca;
  const std::string dir = temp_dir();
  TlsEcho server(loop, tls::Context::server(server_config({ca.issue({"localhost"})}, GetParam())));
  tls::Stream client(loop, client_for(ca, dir));
  std::string big(200 * 1024, 'x');
  Exchange x = round_trip(loop, client, "localhost", server.port(), "hello " + big);
  EXPECT_FALSE(x.connect_ec) << x.connect_ec.message();
  EXPECT_TRUE(x.ended);  // the server's close_notify after ours
  EXPECT_EQ(x.echoed, "hello " + big);
  EXPECT_EQ(client.protocol(), "TLSv1.3");
  EXPECT_EQ(client.alpn(), "http/1.1");
  ASSERT_EQ(server.streams().size(), 1u);
  EXPECT_EQ(server.streams()[0]->server_name(), "localhost");
  EXPECT_TRUE(server.errors.empty());
  client.close();
  server.close_all();
  finish(loop);
}

INSTANTIATE_TEST_SUITE_P(HandshakeOnPool, TlsStreamTest, ::testing::Bool());

namespace {

std::string verify_failure(const tls::Context& client_ctx, const Pem& server_cert,
                           const std::string& host) {
  Loop loop;
  TlsEcho server(loop, tls::Context::server(server_config({server_cert})));
  tls::Stream client(loop, client_ctx);
  Exchange x = round_trip(loop, client, host, server.port(), "x");
  client.close();
  server.close_all();
  finish(loop);
  EXPECT_TRUE(x.connect_ec);
  return x.connect_ec ? std::string(x.connect_ec.category().name()) + ": " + x.connect_ec.message()
                      : "";
}

}  // namespace

TEST(TlsVerify, ExpiredCertificateIsRejected) {
  TestCa ca;
  const std::string dir = temp_dir();
  auto msg =
      verify_failure(client_for(ca, dir), ca.issue({"localhost"}, -7200, -3600), "localhost");
  EXPECT_NE(msg.find("certificate has expired"), std::string::npos) << msg;
  EXPECT_NE(msg.find("weft.tls.verify"), std::string::npos) << msg;
}

TEST(TlsVerify, WrongHostIsRejected) {
  TestCa ca;
  const std::string dir = temp_dir();
  auto msg = verify_failure(client_for(ca, dir), ca.issue({"other.test"}), "localhost");
  EXPECT_NE(msg.find("hostname mismatch"), std::string::npos) << msg;
}

TEST(TlsVerify, WrongIpAddressIsRejected) {
  TestCa ca;
  const std::string dir = temp_dir();
  auto msg = verify_failure(client_for(ca, dir), ca.issue({"localhost", "127.0.0.2"}), "127.0.0.1");
  EXPECT_NE(msg.find("IP address mismatch"), std::string::npos) << msg;
}

TEST(TlsVerify, SelfSignedCertificateIsRejected) {
  TestCa ca;
  const std::string dir = temp_dir();
  auto msg = verify_failure(client_for(ca, dir), TestCa::self_signed({"localhost"}), "localhost");
  EXPECT_NE(msg.find("self-signed certificate"), std::string::npos) << msg;
}

TEST(TlsVerify, SystemStoreDoesNotTrustTheTestCa) {
  TestCa ca;
  auto msg = verify_failure(tls::Context::client(), ca.issue({"localhost"}), "localhost");
  EXPECT_NE(msg.find("unable to get local issuer certificate"), std::string::npos) << msg;
}

TEST(TlsServer, SniSelectsTheCertificate) {
  Loop loop;
  TestCa ca;
  const std::string dir = temp_dir();
  auto ctx = tls::Context::server(server_config({ca.issue({"a.test"}), ca.issue({"*.b.test"})}));
  TlsEcho server(loop, ctx);
  for (const char* host : {"a.test", "www.b.test"}) {
    // The names resolve nowhere: connect to the address, then handshake for the name.
    Exchange x;
    net::Stream raw(loop);
    bool up = false;
    raw.connect(net::SocketAddress::ipv4_loopback(server.port()), [&](std::error_code ec) {
      EXPECT_FALSE(ec);
      up = true;
    });
    run_until(loop, [&] { return up; });
    tls::Stream named(loop, raw.detach_socket(), client_for(ca, dir), host);
    named.read_start([&](std::span<char> d) {
      x.echoed += to_string(d);
      return d.size();
    });
    named.on_end([&] { x.ended = true; });
    named.on_error([&](std::error_code ec) { x.connect_ec = ec; });
    named.write("sni");
    named.shutdown(net::WriteCallback{});
    run_until(loop, [&] { return x.ended || x.connect_ec; });
    EXPECT_FALSE(x.connect_ec) << host << ": " << x.connect_ec.message();
    EXPECT_EQ(x.echoed, "sni");
    EXPECT_EQ(server.streams().back()->server_name(), host);
    named.close();
    raw.close();
  }
  server.close_all();
  finish(loop);
}

TEST(TlsServer, HandshakeTimeoutClosesASilentClient) {
  Loop loop;
  TestCa ca;
  auto cfg = server_config({ca.issue({"localhost"})});
  cfg.handshake_timeout = std::chrono::milliseconds(100);
  TlsEcho server(loop, tls::Context::server(cfg));
  const int fd = blocking_connect(net::SocketAddress::ipv4_loopback(server.port()));
  ASSERT_GE(fd, 0);
  const auto start = std::chrono::steady_clock::now();
  run_until(loop, [&] { return !server.errors.empty(); });
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(server.errors.size(), 1u);
  EXPECT_EQ(server.errors[0], std::errc::timed_out);
  EXPECT_LT(took, std::chrono::seconds(2));
  ::close(fd);
  server.close_all();
  finish(loop);
}

TEST(TlsServer, HandshakeLimitRefusesTheExtraConnection) {
  Loop loop;
  TestCa ca;
  auto cfg = server_config({ca.issue({"localhost"})});
  cfg.max_handshakes = 1;
  auto ctx = tls::Context::server(cfg);
  TlsEcho server(loop, ctx);
  const int a = blocking_connect(net::SocketAddress::ipv4_loopback(server.port()));
  const int b = blocking_connect(net::SocketAddress::ipv4_loopback(server.port()));
  run_until(loop, [&] { return !server.errors.empty(); });
  ASSERT_EQ(server.errors.size(), 1u);
  EXPECT_EQ(server.errors[0], tls::errc::handshake_limit);
  EXPECT_EQ(ctx.handshakes_in_progress(), 1u);
  ::close(a);
  ::close(b);
  server.close_all();
  finish(loop);
  EXPECT_EQ(ctx.handshakes_in_progress(), 0u);
}

TEST(TlsServer, PlainHttpBytesGetAnAlertNotAHang) {
  Loop loop;
  TestCa ca;
  TlsEcho server(loop, tls::Context::server(server_config({ca.issue({"localhost"})})));
  const int fd = blocking_connect(net::SocketAddress::ipv4_loopback(server.port()));
  ASSERT_GE(fd, 0);
  const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  run_until(loop, [&] { return !server.errors.empty(); });
  ASSERT_EQ(server.errors.size(), 1u);
  EXPECT_EQ(server.errors[0].category(), tls::openssl_category()) << server.errors[0].message();
  EXPECT_NE(server.errors[0].message().find("http request"), std::string::npos)
      << server.errors[0].message();
  ::close(fd);
  server.close_all();
  finish(loop);
}

TEST(TlsServer, TruncatedRecordThenFinIsAnError) {
  Loop loop;
  TestCa ca;
  TlsEcho server(loop, tls::Context::server(server_config({ca.issue({"localhost"})})));
  const int fd = blocking_connect(net::SocketAddress::ipv4_loopback(server.port()));
  ASSERT_GE(fd, 0);
  // A handshake record header announcing 512 bytes, then 5 of them, then FIN.
  const unsigned char rec[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
  ASSERT_EQ(::send(fd, rec, sizeof rec, 0), static_cast<ssize_t>(sizeof rec));
  ::shutdown(fd, SHUT_WR);
  run_until(loop, [&] { return !server.errors.empty(); });
  ASSERT_EQ(server.errors.size(), 1u);
  EXPECT_EQ(server.errors[0], tls::errc::truncated);
  ::close(fd);
  server.close_all();
  finish(loop);
}

TEST(TlsServer, ReloadKeepsOpenConnectionsAndServesTheNewCertificate) {
  Loop loop;
  TestCa ca1("first CA"), ca2("second CA");
  const std::string d1 = temp_dir(), d2 = temp_dir();
  auto ctx = tls::Context::server(server_config({ca1.issue({"localhost"})}));
  TlsEcho server(loop, ctx);
  tls::Stream old_conn(loop, client_for(ca1, d1));
  std::string got;
  bool up = false;
  old_conn.connect("localhost", server.port(), [&](std::error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    up = true;
  });
  (void)old_conn.read_start([&](std::span<char> d) {
    got += to_string(d);
    return d.size();
  });
  run_until(loop, [&] { return up; });

  ctx.reload(server_config({ca2.issue({"localhost"})}));
  EXPECT_EQ(ctx.generation(), 2u);
  old_conn.write("still here");
  run_until(loop, [&] { return got == "still here"; });

  tls::Stream fresh_old_ca(loop, client_for(ca1, d1));  // the new certificate: ca1 fails
  Exchange bad = round_trip(loop, fresh_old_ca, "localhost", server.port(), "x");
  EXPECT_TRUE(bad.connect_ec);
  tls::Stream fresh(loop, client_for(ca2, d2));
  Exchange good = round_trip(loop, fresh, "localhost", server.port(), "new");
  EXPECT_FALSE(good.connect_ec) << good.connect_ec.message();
  EXPECT_EQ(good.echoed, "new");
  EXPECT_THROW(ctx.reload(tls::ServerConfig{}), std::invalid_argument);  // old config stays
  old_conn.close();
  fresh_old_ca.close();
  fresh.close();
  server.close_all();
  finish(loop);
}

TEST(TlsContext, BadFilesNameTheFile) {
  tls::ServerConfig c;
  c.certificates.push_back({.cert_file = "/nonexistent/cert.pem",
                            .key_file = "/nonexistent/key.pem",
                            .cert_pem = {},
                            .key_pem = {}});
  try {
    (void)tls::Context::server(c);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cert.pem"), std::string::npos) << e.what();
  }
  TestCa ca;
  Pem a = ca.issue({"a.test"}), b = ca.issue({"b.test"});
  EXPECT_THROW((void)tls::Context::server(server_config({{a.cert, b.key}})), std::runtime_error);
}

TEST(TlsCoroutines, ReadSomeWriteAllAndHandshakeAwait) {
  Loop loop;
  TestCa ca;
  const std::string dir = temp_dir();
  TlsEcho server(loop, tls::Context::server(server_config({ca.issue({"localhost"})})));
  tls::Stream client(loop, client_for(ca, dir));
  bool up = false;
  client.connect("localhost", server.port(), [&](std::error_code) { up = true; });
  auto task = [&]() -> Task<std::string> {
    co_await client.handshake();
    std::string data(100 * 1024, 'c');
    co_await client.write_all(data);
    std::string got;
    std::array<char, 4096> buf;
    while (got.size() < data.size()) {
      const std::size_t n = co_await client.read_some(buf);
      if (n == 0) break;
      got.append(buf.data(), n);
    }
    co_await client.shutdown();
    co_return got;
  };
  std::string got = run_until_complete(loop, task());
  EXPECT_EQ(got, std::string(100 * 1024, 'c'));
  EXPECT_TRUE(up);
  client.close();
  server.close_all();
  finish(loop);
}

// A slow reader: the writer stops at the high-water mark (write() returns false), what is
// queued stays bounded, on_drain says when to go on, and every byte arrives in order.
TEST(TlsBackpressure, WriteStopsAtTheMarkAndDrainResumes) {
  Loop loop;
  TestCa ca;
  const std::string dir = temp_dir();
  net::Listener listener(loop);
  std::unique_ptr<tls::Stream> server;
  auto ctx = tls::Context::server(server_config({ca.issue({"localhost"})}));
  ASSERT_FALSE(listener.listen(net::SocketAddress::ipv4_loopback(0), [&](net::Socket s) {
    server = std::make_unique<tls::Stream>(loop, std::move(s), ctx,
                                           net::StreamOptions{.read_buffer_size = 16 * 1024,
                                                              .max_read_buffer = 1024 * 1024,
                                                              .high_water_mark = 64 * 1024,
                                                              .no_delay = true,
                                                              .cork_during_read = true});
  }));
  tls::Stream reader(loop, client_for(ca, dir));
  reader.connect("localhost", listener.local_address().port(),
                 [&](std::error_code ec) { EXPECT_FALSE(ec) << ec.message(); });
  run_until(loop, [&] { return server != nullptr; });
  bool hs = false;
  server->on_handshake([&](std::error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    hs = true;
  });
  run_until(loop, [&] { return hs; });

  const std::size_t chunk = 16 * 1024,
                    total = 16 * 1024 * 1024;  // more than the socket buffers hold
  std::size_t sent = 0, max_queued = 0;
  int drains = 0;
  std::string expected;
  Function<void()> produce = [&] {
    while (sent < total) {
      std::string piece(chunk, static_cast<char>('a' + (sent / chunk) % 26));
      expected += piece;
      sent += chunk;
      const bool more = server->write(std::move(piece));
      max_queued = std::max(max_queued, server->queued_bytes());
      if (!more) return;
    }
    server->shutdown(net::WriteCallback{});
  };
  server->on_drain([&] {
    ++drains;
    produce();
  });
  produce();
  EXPECT_LT(sent, total);  // stopped at the mark: nothing reads yet
  EXPECT_TRUE(server->needs_drain());
  std::string got;
  bool ended = false;
  (void)reader.read_start([&](std::span<char> d) {
    got += to_string(d);
    return d.size();
  });
  reader.on_end([&] { ended = true; });
  run_until(
      loop, [&] { return ended; }, std::chrono::milliseconds(20000));
  EXPECT_EQ(got.size(), total);
  EXPECT_TRUE(got == expected);
  EXPECT_GT(drains, 0);
  EXPECT_LE(max_queued, 64 * 1024 + 2 * chunk);
  reader.close();
  server->close();
  listener.close();
  finish(loop);
}

// A handshake callback that destroys its stream (what a coroutine awaiting the handshake
// does when it drops the stream after the failure): nothing of the stream is touched after.
TEST(TlsServer, AHandshakeCallbackMayDestroyItsStream) {
  Loop loop;
  TestCa ca;
  tls::Context ctx = tls::Context::server(server_config({ca.issue({"localhost"})}));
  net::Listener listener(loop);
  std::unique_ptr<tls::Stream> stream;
  std::error_code seen;
  bool called = false;
  ASSERT_FALSE(listener.listen(net::SocketAddress::ipv4_loopback(0), [&](net::Socket s) {
    stream = std::make_unique<tls::Stream>(loop, std::move(s), ctx);
    (void)stream->read_start([](std::span<char> d) { return d.size(); });
    stream->on_handshake([&](std::error_code ec) {
      seen = ec;
      called = true;
      stream.reset();
    });
    stream->on_error([](std::error_code) { ADD_FAILURE() << "on_error for a destroyed stream"; });
  }));
  const int fd =
      blocking_connect(net::SocketAddress::ipv4_loopback(listener.local_address().port()));
  ASSERT_GE(fd, 0);
  const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  run_until(loop, [&] { return called; });
  EXPECT_TRUE(seen);
  EXPECT_FALSE(stream);
  ::close(fd);
  listener.close();
  finish(loop);
}

// handshake_inline_when_idle (the default): a signing step runs inline while the loop has no
// established server TLS connection, on the pool once one is established, inline again
// after it closed.
TEST(TlsServer, SigningStepsRunInlineUntilAConnectionIsEstablished) {
  Loop loop;
  TestCa ca;
  const std::string dir = temp_dir();
  tls::ServerConfig cfg = server_config({ca.issue({"localhost"})});
  cfg.handshake_inline_when_idle = true;
  const tls::Context server_ctx = tls::Context::server(cfg);
  TlsEcho server(loop, server_ctx);
  const tls::Context client_ctx = client_for(ca, dir);
  auto echo_once = [&](tls::Stream& c, std::string& got) {
    c.connect("localhost", server.port(),
              [](std::error_code ec) { EXPECT_FALSE(ec) << ec.message(); });
    (void)c.read_start([&got](std::span<char> d) {
      got += to_string(d);
      return d.size();
    });
    c.write("ping");
    run_until(loop, [&] { return got == "ping"; });  // the server's handshake is done
  };
  std::string got_a, got_b, got_c;
  tls::Stream a(loop, client_ctx);
  echo_once(a, got_a);
  tls::Stats s = tls::stats(server_ctx);
  EXPECT_EQ(s.pool_steps, 0u);  // nothing established to delay: the signature ran inline
  EXPECT_EQ(s.inline_steps, 2u);
  tls::Stream b(loop, client_ctx);
  echo_once(b, got_b);  // `a` is established: b's signing step went to the pool
  s = tls::stats(server_ctx);
  EXPECT_EQ(s.pool_steps, 1u);
  EXPECT_EQ(s.inline_steps, 3u);
  a.close();
  b.close();
  for (auto& st : server.streams()) st->close();
  run_until(loop,
            [&] { return server.streams()[0]->is_closed() && server.streams()[1]->is_closed(); });
  tls::Stream c(loop, client_ctx);
  echo_once(c, got_c);  // both closed: inline again
  s = tls::stats(server_ctx);
  EXPECT_EQ(s.pool_steps, 1u);
  EXPECT_EQ(s.inline_steps, 5u);
  c.close();
  server.close_all();
  finish(loop);
}
