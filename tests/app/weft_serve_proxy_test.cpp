// WeftServeProxy.*: weft-serve's --proxy forwarding (apps/weft-serve/proxy.*), in process:
// an upstream weft Server, a proxying Server with mount_proxy(), and weft's HTTP client in
// front, all on one loop over 127.0.0.1. Covers the path mapping, both bodies streaming,
// hop-by-hop fields, X-Forwarded-*, passed-through redirects and encodings, 502 and 504.
#include <gtest/gtest.h>
#include <weft/async.hpp>
#include <weft/http/client.hpp>
#include <weft/http/server.hpp>
#include <weft/loop.hpp>

#include "proxy.hpp"
#include "support/loop_testing.hpp"

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
      std::string seen = std::string(req.target()) + "|" + std::string(req.header("x-forwarded-for")) + "|" +
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
    upstream.get("/v1/moved", [](Request&) { return Response(302).header("Location", "/v1/hello"); });
    upstream.get("/v1/slow", [](Request&) -> Task<Response> {
      co_await weft::sleep(300ms);
      co_return Response::text("late");
    });
    ASSERT_FALSE(upstream.listen(0, "127.0.0.1"));

    http::Server front(loop);
    ProxyOptions po;
    ProxyRule rule;
    ASSERT_TRUE(parse_proxy_rule("/ext=http://127.0.0.1:" + std::to_string(upstream.port()) + "/v1", rule));
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
      std::string eb = co_await e.text();
      EXPECT_NE(eb.find("response headers timeout"), std::string::npos) << eb;

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
