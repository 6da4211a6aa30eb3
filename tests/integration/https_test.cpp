// HTTPS (ServerOptions::tls) as Debian's curl, `openssl s_client` and Python's ssl module
// see it: TLS 1.2 and 1.3, SNI, ALPN, resumption, renegotiation refused, plain HTTP and
// truncated records on the TLS port, a client stopping mid-handshake, reload with open
// connections. Certificates are made at test time (tests/support/tls_certs.hpp).
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"
#include "support/tls_certs.hpp"

#include <weft/http/server.hpp>
#include <weft/http/static_files.hpp>
#include <weft/tls/context.hpp>

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;
using testing::Pem;
using testing::TestCa;

// Runs a shell command (bounded by `timeout 20`), returns its stdout + stderr.
std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(("timeout 20 sh -c '" + cmd + "' 2>&1").c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

struct Certs {
  Certs() {
    char tmpl[] = "/tmp/weft-https-XXXXXX";
    dir = ::mkdtemp(tmpl);
    testing::write_file(dir + "/ca.pem", ca.cert_pem());
  }
  ~Certs() { std::system(("rm -rf " + dir).c_str()); }
  tls::Certificate leaf(const std::vector<std::string>& names) const {
    Pem p = ca.issue(names);
    return {.cert_file = {}, .key_file = {}, .cert_pem = p.cert, .key_pem = p.key};
  }
  TestCa ca;
  std::string dir;
};

tls::ServerConfig config(const Certs& c, Duration handshake_timeout = std::chrono::seconds(10)) {
  tls::ServerConfig cfg;
  cfg.certificates = {c.leaf({"localhost", "127.0.0.1"}), c.leaf({"b.test"})};
  cfg.handshake_timeout = handshake_timeout;
  return cfg;
}

void with_https(const tls::Context& ctx, const std::function<void(std::uint16_t)>& client,
                const std::string& static_root = {}) {
  Loop loop;
  {
    http::ServerOptions options;
    options.tls = ctx;
    http::Server server(loop, options);
    server.get("/plaintext",
               [](Request&) { return Response::bytes("Hello, World!", "text/plain"); });
    server.post("/echo", [](Request& req) {
      return Response::bytes(req.body(), "application/octet-stream");
    });
    // "/*": the file's path is the same whether the handler maps the whole path or the "*".
    if (!static_root.empty()) server.get("/*", http::static_files(static_root));
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] { client(port); });
  }
  weft::testing::expect_clean_close(loop);
}

std::string url(std::uint16_t port, const char* host = "localhost") {
  return "https://" + std::string(host) + ":" + std::to_string(port);
}

}  // namespace

TEST(Https, CurlOverTls12AndTls13WithAlpn) {
  Certs c;
  with_https(tls::Context::server(config(c)), [&](std::uint16_t port) {
    for (const std::string& v : {std::string("--tlsv1.3"), std::string("--tls-max 1.2")}) {
      const std::string out =
          sh("curl -sS -v " + v + " --cacert " + c.dir + "/ca.pem " + url(port) + "/plaintext");
      EXPECT_TRUE(contains(out, "Hello, World!")) << out;
      EXPECT_TRUE(contains(
          out, v == "--tlsv1.3" ? "SSL connection using TLSv1.3" : "SSL connection using TLSv1.2"))
          << out;
      EXPECT_TRUE(contains(out, "ALPN: server accepted http/1.1")) << out;
    }
    // A 1 MB body both ways, keep-alive across two requests on one connection.
    const std::string body =
        sh("head -c 1000000 /dev/urandom > " + c.dir + "/big && curl -sS --cacert " + c.dir +
           "/ca.pem --data-binary @" + c.dir + "/big " + url(port) + "/echo -o " + c.dir +
           "/big.out --next --cacert " + c.dir + "/ca.pem " + url(port) + "/plaintext && cmp " +
           c.dir + "/big " + c.dir + "/big.out && echo SAME");
    EXPECT_TRUE(contains(body, "Hello, World!SAME")) << body;
  });
}

// write_file over TLS: the range is read in chunks and encrypted (no sendfile), in order
// with the head, under the connection's high-water mark; ranges too.
TEST(Https, StaticFilesOverTls) {
  Certs c;
  const std::string root = c.dir + "/www";
  sh("mkdir -p " + root + "/files && head -c 3000000 /dev/urandom > " + root + "/files/big.bin");
  with_https(
      tls::Context::server(config(c)),
      [&](std::uint16_t port) {
        const std::string out = sh("curl -sS --cacert " + c.dir + "/ca.pem " + url(port) +
                                   "/files/big.bin -o " + c.dir + "/got.bin && cmp " + root +
                                   "/files/big.bin " + c.dir + "/got.bin && echo SAME");
        EXPECT_EQ(out, "SAME\n");
        const std::string range = sh("curl -sS --cacert " + c.dir + "/ca.pem -r 1000-1999 " +
                                     url(port) + "/files/big.bin | wc -c");
        EXPECT_EQ(range, "1000\n");
      },
      root);
}

TEST(Https, SniChoosesTheCertificate) {
  Certs c;
  with_https(tls::Context::server(config(c)), [&](std::uint16_t port) {
    const std::string p = std::to_string(port);
    const std::string out = sh("curl -sS --cacert " + c.dir + "/ca.pem --resolve b.test:" + p +
                               ":127.0.0.1 " + url(port, "b.test") + "/plaintext");
    EXPECT_EQ(out, "Hello, World!");  // verified against b.test's certificate
    const std::string subj = sh("echo | openssl s_client -connect 127.0.0.1:" + p +
                                " -servername b.test 2>/dev/null | grep subject=");
    EXPECT_TRUE(contains(subj, "CN = b.test")) << subj;
    const std::string dflt = sh("echo | openssl s_client -connect 127.0.0.1:" + p +
                                " -noservername 2>/dev/null | grep subject=");
    EXPECT_TRUE(contains(dflt, "CN = localhost")) << dflt;
  });
}

TEST(Https, SessionResumptionTls13AndTls12) {
  Certs c;
  with_https(tls::Context::server(config(c)), [&](std::uint16_t port) {
    for (const char* v : {"-tls1_3", "-tls1_2"}) {
      const std::string base = std::string("openssl s_client ") + v +
                               " -connect 127.0.0.1:" + std::to_string(port) +
                               " -servername localhost -CAfile " + c.dir + "/ca.pem";
      const std::string first = sh("(sleep 0.3; echo) | " + base + " -sess_out " + c.dir + "/sess");
      EXPECT_TRUE(contains(first, "New, TLSv1.")) << first;
      EXPECT_TRUE(contains(first, "Verify return code: 0 (ok)")) << first;
      const std::string second = sh("(sleep 0.3; echo) | " + base + " -sess_in " + c.dir + "/sess");
      EXPECT_TRUE(contains(second, "Reused, TLSv1.")) << v << ": " << second;
    }
  });
}

// Ticket keys belong to the Context: a ticket stays good across reload(), and after a
// rotation the previous key still decrypts it.
TEST(Https, ResumptionSurvivesReloadAndKeyRotation) {
  Certs c;
  auto cfg = config(c);
  cfg.ticket_key_rotation = std::chrono::seconds(1);
  auto ctx = tls::Context::server(cfg);
  with_https(ctx, [&](std::uint16_t port) {
    const std::string base = "openssl s_client -tls1_3 -connect 127.0.0.1:" + std::to_string(port) +
                             " -servername localhost -CAfile " + c.dir + "/ca.pem";
    const std::string first = sh("(sleep 0.3; echo) | " + base + " -sess_out " + c.dir + "/sess");
    EXPECT_TRUE(contains(first, "New, TLSv1.3")) << first;
    EXPECT_EQ(ctx.ticket_key_rotations(), 1u);
    ctx.reload();
    ::usleep(1200 * 1000);  // past the rotation period
    const std::string second = sh("(sleep 0.3; echo) | " + base + " -sess_out " + c.dir + "/sess2");
    EXPECT_TRUE(contains(second, "New, TLSv1.3")) << second;
    EXPECT_EQ(ctx.ticket_key_rotations(), 2u);  // its ticket: a new key
    const std::string third = sh("(sleep 0.3; echo) | " + base + " -sess_in " + c.dir + "/sess");
    EXPECT_TRUE(contains(third, "Reused, TLSv1.3")) << third;  // the first ticket: the previous key
  });
}

TEST(Https, PythonSslClient) {
  Certs c;
  with_https(tls::Context::server(config(c)), [&](std::uint16_t port) {
    const std::string py =
        "import ssl, socket, sys\n"
        "for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):\n"
        "    ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
        "    ctx.minimum_version = ctx.maximum_version = v\n"
        "    ctx.set_alpn_protocols(['h2', 'http/1.1'])\n"
        "    with socket.create_connection(('127.0.0.1', int(sys.argv[1]))) as raw:\n"
        "        with ctx.wrap_socket(raw, server_hostname='localhost') as s:\n"
        "            s.sendall(b'GET /plaintext HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: "
        "close\\r\\n\\r\\n')\n"
        "            data = b''\n"
        "            while True:\n"
        "                chunk = s.recv(4096)\n"
        "                if not chunk: break\n"
        "                data += chunk\n"
        "            print(s.version(), s.selected_alpn_protocol(), data.endswith(b'Hello, "
        "World!'))\n";
    testing::write_file(c.dir + "/client.py", py);
    const std::string out =
        sh("python3 " + c.dir + "/client.py " + std::to_string(port) + " " + c.dir + "/ca.pem");
    EXPECT_TRUE(contains(out, "TLSv1.2 http/1.1 True")) << out;
    EXPECT_TRUE(contains(out, "TLSv1.3 http/1.1 True")) << out;
  });
}

TEST(Https, RenegotiationIsRefused) {
  Certs c;
  with_https(tls::Context::server(config(c)), [&](std::uint16_t port) {
    const std::string out =
        sh("(sleep 0.3; echo R; sleep 0.5) | openssl s_client -tls1_2 -connect 127.0.0.1:" +
           std::to_string(port) + " -CAfile " + c.dir + "/ca.pem");
    EXPECT_TRUE(contains(out, "RENEGOTIATING")) << out;
    EXPECT_TRUE(contains(out, "no renegotiation")) << out;
    // The server goes on serving.
    EXPECT_EQ(sh("curl -sS --cacert " + c.dir + "/ca.pem " + url(port) + "/plaintext"),
              "Hello, World!");
  });
}

TEST(Https, PlainHttpAndTruncatedRecordsAreClosedNotHung) {
  Certs c;
  with_https(tls::Context::server(config(c)), [&](std::uint16_t port) {
    RawClient plain = RawClient::tcp(port);
    ASSERT_TRUE(plain.send(get_request("/plaintext")));
    const CloseKind k = plain.wait_closed(std::chrono::milliseconds(3000));
    EXPECT_TRUE(k == CloseKind::eof || k == CloseKind::reset) << to_string(k);

    RawClient cut = RawClient::tcp(port);  // a record header announcing 512 bytes, 4 of them
    ASSERT_TRUE(cut.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc", 9)));
    cut.shutdown_write();
    const CloseKind k2 = cut.wait_closed(std::chrono::milliseconds(3000));
    EXPECT_TRUE(k2 == CloseKind::eof || k2 == CloseKind::reset) << to_string(k2);
    EXPECT_EQ(sh("curl -sS --cacert " + c.dir + "/ca.pem " + url(port) + "/plaintext"),
              "Hello, World!");
  });
}

TEST(Https, ClientStoppingMidHandshakeIsClosedAtTheHandshakeTimeout) {
  Certs c;
  with_https(tls::Context::server(config(c, std::chrono::milliseconds(300))),
             [&](std::uint16_t port) {
               RawClient silent = RawClient::tcp(port);
               // The first bytes of a ClientHello, then nothing.
               ASSERT_TRUE(silent.send(std::string("\x16\x03\x01\x00\xc8\x01", 6)));
               const auto start = std::chrono::steady_clock::now();
               const CloseKind k = silent.wait_closed(std::chrono::milliseconds(3000));
               const auto took = std::chrono::steady_clock::now() - start;
               EXPECT_TRUE(k == CloseKind::eof || k == CloseKind::reset) << to_string(k);
               EXPECT_GE(took, std::chrono::milliseconds(250));
               EXPECT_LT(took, std::chrono::milliseconds(2000));
             });
}

TEST(Https, ReloadWhileConnectionsAreOpen) {
  Certs c;
  TestCa second("second CA");
  testing::write_file(c.dir + "/ca2.pem", second.cert_pem());
  auto ctx = tls::Context::server(config(c));
  with_https(ctx, [&](std::uint16_t port) {
    // A keep-alive connection made before the reload is used again after it.
    const std::string py =
        "import http.client, ssl, sys, time\n"
        "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
        "conn = http.client.HTTPSConnection('localhost', int(sys.argv[1]), context=ctx)\n"
        "conn.request('GET', '/plaintext'); print('before', conn.getresponse().read())\n"
        "open(sys.argv[3], 'w').close()\n"
        "while not __import__('os').path.exists(sys.argv[3] + '.done'): time.sleep(0.02)\n"
        "conn.request('GET', '/plaintext'); print('after', conn.getresponse().read())\n";
    testing::write_file(c.dir + "/keep.py", py);
    const std::string flag = c.dir + "/reload";
    std::string out;
    std::thread t([&] {
      out = sh("python3 " + c.dir + "/keep.py " + std::to_string(port) + " " + c.dir + "/ca.pem " +
               flag);
    });
    for (int i = 0; i < 500 && ::access(flag.c_str(), F_OK) != 0; ++i) ::usleep(10000);
    tls::ServerConfig next;
    Pem p = second.issue({"localhost"});
    next.certificates = {{.cert_file = {}, .key_file = {}, .cert_pem = p.cert, .key_pem = p.key}};
    ctx.reload(next);  // from this (non-loop) thread: reload() may be called from any thread
    testing::write_file(flag + ".done", "");
    t.join();
    EXPECT_TRUE(contains(out, "before b'Hello, World!'")) << out;
    EXPECT_TRUE(contains(out, "after b'Hello, World!'")) << out;
    const std::string old_ca =
        sh("curl -sS --cacert " + c.dir + "/ca.pem " + url(port) + "/plaintext");
    EXPECT_FALSE(contains(old_ca, "Hello")) << old_ca;
    EXPECT_EQ(sh("curl -sS --cacert " + c.dir + "/ca2.pem " + url(port) + "/plaintext"),
              "Hello, World!");
  });
}

}  // namespace weft::itest
