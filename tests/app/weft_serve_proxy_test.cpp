// WeftServeProxy.*: weft-serve's --proxy forwarding (apps/weft-serve/proxy.*), in process:
// an upstream weft Server (plain or HTTPS with a test CA's certificate), a proxying Server
// with mount_proxy(), and weft's HTTP client in front, all on one loop over 127.0.0.1.
// Covers the path mapping, both bodies streaming, hop-by-hop fields, X-Forwarded-*,
// passed-through redirects and encodings, 502 and 504 as JSON, https upstreams verified
// with a given CA, refused without it, accepted unverified when told so. Then the real
// binaries: weft-serve over HTTPS behind weft-serve --proxy with --proxy-cacert /
// --proxy-insecure.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <weft/async.hpp>
#include <weft/http/client.hpp>
#include <weft/http/server.hpp>
#include <weft/loop.hpp>

#include <cstdlib>

#include "app/serve_process.hpp"
#include "proxy.hpp"
#include "support/loop_testing.hpp"
#include "support/tls_certs.hpp"

namespace weft::serve {
namespace {

using namespace std::chrono_literals;
using http::Request;
using http::Response;

TEST(WeftServeProxy, ForwardsThroughThePooledClient) {
  Loop loop;
  {
    http::Server upstream(loop);
    upstream.get("/v1/hello", [](Request& req) {
      std::string seen =
          std::string(req.target()) + "|" + std::string(req.header("x-forwarded-for")) + "|" +
          std::string(req.header("x-forwarded-host")) + "|" +
          std::string(req.header("x-secret-hop")) + "|" + std::string(req.header("x-kept"));
      return Response::text(seen).header("Keep-Alive", "timeout=5").header("X-Up", "1");
    });
    upstream.post("/v1/echo", [](Request& req) { return Response::text(req.body()); });
    upstream.get("/v1/stream", [](Request&) {
      return Response::stream("text/plain", [](http::BodyWriter& w) -> Task<void> {
        co_await w.write("one ");
        co_await weft::sleep(10ms);
        co_await w.write("two");
      });
    });
    upstream.get("/v1/moved",
                 [](Request&) { return Response(302).header("Location", "/v1/hello"); });
    upstream.get("/v1/slow", [](Request&) -> Task<Response> {
      co_await weft::sleep(300ms);
      co_return Response::text("late");
    });
    ASSERT_FALSE(upstream.listen(0, "127.0.0.1"));

    http::Server front(loop);
    ProxyOptions po;
    ProxyRule rule;
    ASSERT_TRUE(
        parse_proxy_rule("/ext=http://127.0.0.1:" + std::to_string(upstream.port()) + "/v1", rule));
    EXPECT_EQ(rule.prefix, "/ext/");
    po.rules.push_back(rule);
    ProxyRule dead;
    ASSERT_TRUE(parse_proxy_rule("/dead/=http://127.0.0.1:1/", dead));
    po.rules.push_back(dead);
    po.response_timeout = 100ms;
    mount_proxy(front, po);
    ASSERT_FALSE(front.listen(0, "127.0.0.1"));
    const std::string base = "http://127.0.0.1:" + std::to_string(front.port());

    run_until_complete(loop, [&]() -> Task<void> {
      http::Client client(loop);
      http::FetchOptions hello;
      hello.headers = {{"Connection", "X-Secret-Hop"}, {"X-Secret-Hop", "no"}, {"X-Kept", "yes"}};
      http::ClientResponse a = co_await client.fetch(base + "/ext/hello?x=1", hello);
      std::string ab = co_await a.text();
      EXPECT_EQ(ab, "/v1/hello?x=1|127.0.0.1|127.0.0.1:" + std::to_string(front.port()) + "||yes");
      EXPECT_EQ(a.header("x-up"), "1");
      EXPECT_EQ(a.header("keep-alive"), "");  // hop-by-hop: not passed down

      http::FetchOptions post;
      post.method = "POST";
      post.body = std::string(200000, 'p');
      http::ClientResponse b = co_await client.fetch(base + "/ext/echo", post);
      std::string bb = co_await b.text();
      EXPECT_EQ(bb.size(), 200000u);

      http::ClientResponse c = co_await client.fetch(base + "/ext/stream");
      std::string cb = co_await c.text();
      EXPECT_EQ(cb, "one two");

      http::FetchOptions manual;
      manual.max_redirects = 0;
      http::ClientResponse d = co_await client.fetch(base + "/ext/moved", manual);
      EXPECT_EQ(d.status(), 302);  // the proxy passes redirects on
      EXPECT_EQ(d.header("location"), "/v1/hello");
      co_await d.text();

      http::ClientResponse e = co_await client.fetch(base + "/ext/slow");
      EXPECT_EQ(e.status(), 504);
      EXPECT_EQ(e.header("content-type").substr(0, 16), "application/json");
      std::string eb = co_await e.text();
      EXPECT_NE(eb.find("response headers timeout"), std::string::npos) << eb;
      EXPECT_NE(eb.find(R"("kind":"timeout")"), std::string::npos) << eb;

      http::ClientResponse f = co_await client.fetch(base + "/dead/x");
      EXPECT_EQ(f.status(), 502);
      std::string fb = co_await f.text();
      EXPECT_NE(fb.find("refused"), std::string::npos) << fb;
      co_await weft::sleep(350ms);  // the slow upstream handler finishes
      front.close(1s, [] {});
      upstream.close(1s, [] {});
    }());
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

std::string fwd_fields(const Request& req) {
  return std::string(req.header("x-forwarded-for")) + "|" +
         std::string(req.header("x-forwarded-host")) + "|" +
         std::string(req.header("x-forwarded-proto")) + "|" +
         std::string(req.header("x-secret-hop")) + "|" +
         std::string(req.header("proxy-authorization")) + "|" + std::string(req.header("x-kept"));
}

// A directory under /tmp holding the test CA's certificate, removed at the end.
struct CaDir {
  explicit CaDir(const weft::testing::TestCa& ca) {
    char tmpl[] = "/tmp/weft-serve-proxy-XXXXXX";
    path = ::mkdtemp(tmpl);
    ca_file = path + "/ca.pem";
    weft::testing::write_file(ca_file, ca.cert_pem());
  }
  ~CaDir() { std::system(("rm -rf " + path).c_str()); }
  std::string path, ca_file;
};

http::ServerOptions https_options(const weft::testing::Pem& leaf) {
  tls::ServerConfig c;
  c.certificates.push_back(
      {.cert_file = {}, .key_file = {}, .cert_pem = leaf.cert, .key_pem = leaf.key});
  http::ServerOptions o;
  o.tls = tls::Context::server(c);
  return o;
}

Task<nlohmann::json> json_of(http::ClientResponse& res) {
  std::string body = co_await res.text();
  co_return nlohmann::json::parse(body, nullptr, false);
}

TEST(WeftServeProxy, HttpsUpstreamVerifiedWithTheGivenCa) {
  const weft::testing::TestCa ca;
  const CaDir dir(ca);
  Loop loop;
  {
    http::Server upstream(loop, https_options(ca.issue({"127.0.0.1"})));
    upstream.get("/v1/hello", [](Request& req) {
      return Response::text(std::string(req.target()) + "|" + fwd_fields(req), 203)
          .header("Keep-Alive", "timeout=5")
          .header("X-Up", "1");
    });
    upstream.post("/v1/echo", [](Request& req) {
      return Response::text(std::string(req.header("transfer-encoding")) + "|" + req.body(), 201)
          .header("X-Up", "2");
    });
    upstream.get("/v1/slow", [](Request&) -> Task<Response> {
      co_await weft::sleep(300ms);
      co_return Response::text("late");
    });
    ASSERT_FALSE(upstream.listen(0, "127.0.0.1"));
    const std::string up = "https://127.0.0.1:" + std::to_string(upstream.port()) + "/v1/";

    http::Server front(loop);
    auto rules = [](std::initializer_list<std::string> texts, Duration response_timeout = 5s) {
      ProxyOptions po;
      for (const std::string& t : texts) {
        ProxyRule r;
        EXPECT_TRUE(parse_proxy_rule(t, r)) << t;
        po.rules.push_back(r);
      }
      po.response_timeout = response_timeout;
      return po;
    };
    ProxyOptions with_ca = rules({"/ext/=" + up, "/down/=https://127.0.0.1:1/"});
    with_ca.ca_file = dir.ca_file;
    mount_proxy(front, with_ca);
    ProxyOptions impatient = rules({"/slow/=" + up}, 100ms);  // shares with_ca's client
    impatient.ca_file = dir.ca_file;
    mount_proxy(front, impatient);
    mount_proxy(front, rules({"/noca/=" + up}));  // the system store: the test CA is unknown
    ProxyOptions insecure = rules({"/insecure/=" + up});
    insecure.verify_tls = false;
    mount_proxy(front, insecure);
    ASSERT_FALSE(front.listen(0, "127.0.0.1"));
    const std::string base = "http://127.0.0.1:" + std::to_string(front.port());
    const std::string front_host = "127.0.0.1:" + std::to_string(front.port());

    run_until_complete(loop, [&]() -> Task<void> {
      http::Client client(loop);
      http::FetchOptions hello;
      hello.headers = {{"Connection", "X-Secret-Hop"},
                       {"X-Secret-Hop", "no"},
                       {"X-Kept", "yes"},
                       {"X-Forwarded-For", "10.0.0.9"}};
      http::ClientResponse a = co_await client.fetch(base + "/ext/hello?x=1", hello);
      std::string ab = co_await a.text();
      EXPECT_EQ(a.status(), 203);  // the upstream's status and fields come through
      EXPECT_EQ(ab, "/v1/hello?x=1|10.0.0.9, 127.0.0.1|" + front_host + "|http|||yes");
      EXPECT_EQ(a.header("x-up"), "1");
      EXPECT_EQ(a.header("keep-alive"), "");  // hop-by-hop: not passed down

      int pieces = 0;
      http::FetchOptions post;
      post.method = "POST";
      post.body_source = [&pieces]() -> Task<std::string> {
        if (pieces == 3) co_return std::string();
        co_await weft::sleep(5ms);
        co_return std::string(40000, static_cast<char>('a' + pieces++));
      };
      http::ClientResponse b = co_await client.fetch(base + "/ext/echo", post);
      std::string bb = co_await b.text();
      EXPECT_EQ(b.status(), 201);
      EXPECT_EQ(b.header("x-up"), "2");
      EXPECT_EQ(bb, "chunked|" + std::string(40000, 'a') + std::string(40000, 'b') +
                        std::string(40000, 'c'));

      http::ClientResponse c = co_await client.fetch(base + "/noca/hello");
      EXPECT_EQ(c.status(), 502);
      const nlohmann::json cj = co_await json_of(c);
      EXPECT_EQ(cj.value("kind", ""), "tls") << cj.dump();
      const std::string cerr = cj.value("error", "");
      EXPECT_NE(cerr.find("upstream: TLS certificate of 127.0.0.1:" +
                          std::to_string(upstream.port()) + " rejected: certificate verify failed"),
                std::string::npos)
          << cerr;

      http::ClientResponse d = co_await client.fetch(base + "/insecure/hello");
      std::string db = co_await d.text();
      EXPECT_EQ(d.status(), 203);
      EXPECT_EQ(db.substr(0, 10), "/v1/hello|");

      http::ClientResponse e = co_await client.fetch(base + "/down/x");
      EXPECT_EQ(e.status(), 502);
      const nlohmann::json ej = co_await json_of(e);
      EXPECT_EQ(ej.value("kind", ""), "connect") << ej.dump();
      EXPECT_NE(ej.value("error", "").find("connect to 127.0.0.1:1 refused"), std::string::npos)
          << ej.dump();

      http::ClientResponse f = co_await client.fetch(base + "/slow/slow");
      EXPECT_EQ(f.status(), 504);
      const nlohmann::json fj = co_await json_of(f);
      EXPECT_EQ(fj.value("kind", ""), "timeout") << fj.dump();
      EXPECT_NE(fj.value("error", "").find("response headers timeout (100 ms)"), std::string::npos)
          << fj.dump();
      co_await weft::sleep(350ms);  // the slow upstream handler finishes
      front.close(1s, [] {});
      upstream.close(1s, [] {});
    }());
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

// The real binaries: weft-serve over HTTPS (--tls-cert) as the upstream of weft-serve
// --proxy, with --proxy-cacert, without it, and with --proxy-insecure.
TEST(WeftServeProxy, BinaryProxiesToAnHttpsWeftServe) {
  using serve_test::ApiClient;
  using serve_test::ServeProcess;
  using serve_test::TempDir;
  const weft::testing::TestCa ca;
  const weft::testing::Pem leaf = ca.issue({"127.0.0.1"});
  TempDir up_dir, front_dir;
  up_dir.write("cert.pem", leaf.cert);
  up_dir.write("key.pem", leaf.key);
  front_dir.write("ca.pem", ca.cert_pem());
  ServeProcess upstream;
  ASSERT_TRUE(upstream.start(
      {"--tls-cert", up_dir.file("cert.pem"), "--tls-key", up_dir.file("key.pem"), "--no-observe"},
      up_dir.path()))
      << upstream.output();
  const std::string rule = "/ext/=https://127.0.0.1:" + std::to_string(upstream.port()) + "/api/";

  ServeProcess verified;
  ASSERT_TRUE(
      verified.start({"--proxy", rule, "--proxy-cacert", front_dir.file("ca.pem"), "--no-observe"},
                     front_dir.path()))
      << verified.output();
  ApiClient api(verified.port());
  const serve_test::HttpResponse created =
      api.post("/ext/notes", R"({"text":"through the proxy"})");
  EXPECT_EQ(created.status, 201) << created.body;
  const serve_test::HttpResponse listed = api.get("/ext/notes");
  EXPECT_EQ(listed.status, 200);
  EXPECT_NE(listed.body.find("through the proxy"), std::string::npos) << listed.body;
  EXPECT_EQ(verified.output().find("warning"), std::string::npos) << verified.output();
  EXPECT_EQ(verified.stop(), 0);

  ServeProcess unverified;
  ASSERT_TRUE(unverified.start({"--proxy", rule, "--no-observe"}, front_dir.path()))
      << unverified.output();
  const serve_test::HttpResponse refused = ApiClient(unverified.port()).get("/ext/notes");
  EXPECT_EQ(refused.status, 502);
  EXPECT_NE(refused.body.find("certificate verify failed"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find(R"("kind":"tls")"), std::string::npos) << refused.body;
  EXPECT_EQ(unverified.stop(), 0);

  ServeProcess insecure;
  ASSERT_TRUE(
      insecure.start({"--proxy", rule, "--proxy-insecure", "--no-observe"}, front_dir.path()))
      << insecure.output();
  const serve_test::HttpResponse accepted = ApiClient(insecure.port()).get("/ext/notes");
  EXPECT_EQ(accepted.status, 200) << accepted.body;
  const std::string warning =
      "warning: --proxy-insecure: the TLS certificates of https --proxy upstreams are not verified";
  const std::string out = insecure.output();
  EXPECT_NE(out.find(warning), std::string::npos) << out;
  EXPECT_EQ(out.find(warning), out.rfind(warning)) << out;  // once
  EXPECT_EQ(insecure.stop(), 0);
  EXPECT_EQ(upstream.stop(), 0);

  // Flag errors: exit 2 saying why.
  const std::vector<std::vector<std::string>> bad = {
      {"--proxy", rule, "--proxy-cacert", front_dir.file("missing.pem")},
      {"--proxy", rule, "--proxy-cacert", front_dir.file("ca.pem"), "--proxy-insecure"},
      {"--proxy-insecure"}};
  for (const std::vector<std::string>& args : bad) {
    ServeProcess p;
    ASSERT_TRUE(p.start(args, front_dir.path(), false));
    EXPECT_EQ(p.wait_exit(), 2) << args.back();
    EXPECT_NE(p.output().find(args.back() == "--proxy-insecure" ? "--proxy-" : "missing.pem"),
              std::string::npos)
        << p.output();
  }
}

TEST(WeftServeProxy, RulesAreChecked) {
  ProxyRule r;
  EXPECT_FALSE(parse_proxy_rule("ext=http://h/", r));
  EXPECT_FALSE(parse_proxy_rule("/ext/=ftp://h/", r));
  EXPECT_FALSE(parse_proxy_rule("/ext/", r));
  ASSERT_TRUE(parse_proxy_rule("/a=http://h:1", r));
  EXPECT_EQ(r.prefix, "/a/");
  EXPECT_EQ(r.upstream, "http://h:1/");
}

}  // namespace
}  // namespace weft::serve
