// Who may read /_weft/*: the Host header (DNS rebinding), the Origin header (cross-site
// requests), the bearer token's syntax (RFC 9110 §11), the peer rule on routes an
// application adds under the prefix (weft-serve's dashboard), and the stack frames the
// endpoints publish. Real requests go to a server on 127.0.0.1; a remote peer is simulated
// by a Request built here (the server cannot be reached from a non-loopback peer in a test).
#include <weft/http/server.hpp>
#include <weft/observe/mount.hpp>

#include "integration/http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

namespace weft::observe {
namespace {

using namespace std::chrono_literals;

struct Fixture {
  Loop loop;
  http::Server server{loop};
  std::unique_ptr<Mount> obs;
  explicit Fixture(MountOptions options = {}) {
    obs = mount(server, std::move(options));
    // What an application adds under the prefix (weft-serve: the dashboard, the demo).
    server.get("/_weft/", [](http::Request&) { return http::Response::text("page"); });
    server.post("/_weft/demo", [](http::Request&) { return http::Response::text("done"); });
    server.get("/plain", [](http::Request&) { return http::Response::text("plain"); });
    EXPECT_FALSE(server.listen(0));
  }
  void run(std::function<void()> client) {
    itest::run_with_client(loop, server, std::move(client));
    obs.reset();
    loop.run();
    testing::expect_clean_close(loop);
  }
};

// One request on a fresh connection to 127.0.0.1 with the given Host and extra headers.
int status_of(std::uint16_t port, std::string_view method, std::string_view path,
              std::string_view host, std::string_view extra = {}) {
  auto c = itest::RawClient::tcp(port);
  std::string req = std::string(method) + " " + std::string(path) +
                    " HTTP/1.1\r\nHost: " + std::string(host) + "\r\n" + std::string(extra);
  if (method == "POST") req += "Content-Length: 0\r\n";
  req += "\r\n";
  if (!c.send(req)) return -1;
  auto res = c.read_response();
  return res ? res->status : -1;
}

TEST(ObserveAccess, HostMustNameLoopbackOrAnAllowedHost) {
  MountOptions options;
  options.allowed_hosts = {"Metrics.Example", "::2"};
  Fixture f(std::move(options));
  f.run([&] {
    const std::uint16_t port = f.server.port();
    const std::string p = ":" + std::to_string(port);
    for (const std::string& host : std::vector<std::string>{
             "localhost", "localhost" + p, "LocalHost" + p, "127.0.0.1", "127.0.0.1" + p, "[::1]",
             "[::1]" + p, "metrics.example", "metrics.example:9090", "[::2]" + p}) {
      EXPECT_EQ(status_of(port, "GET", "/_weft/stats", host), 200) << host;
    }
    // DNS rebinding: a page from evil.example whose name now resolves to 127.0.0.1.
    for (const std::string& host :
         std::vector<std::string>{"evil.example", "evil.example" + p, "localhost.evil.example",
                                  "127.0.0.1.evil.example", "127.0.0.2"}) {
      for (const char* path :
           {"/_weft/stats", "/_weft/metrics", "/_weft/stats/stream", "/_weft/", "//_weft//stats"}) {
        EXPECT_EQ(status_of(port, "GET", path, host), 403) << host << " " << path;
      }
      EXPECT_EQ(status_of(port, "GET", "/plain", host), 200) << "only the prefix is guarded";
    }
    // Malformed: refused (by the parser's 400 or the mount's 403), never answered.
    for (const std::string& host :
         std::vector<std::string>{"[::1", "localhost:x", "::1", "", "local host"}) {
      const int status = status_of(port, "GET", "/_weft/stats", host);
      EXPECT_TRUE(status == 403 || status == 400) << host << ": " << status;
    }
  });
}

TEST(ObserveAccess, RefusalSaysWhy) {
  Fixture f;
  f.run([&] {
    auto c = itest::RawClient::tcp(f.server.port());
    ASSERT_TRUE(c.send("GET /_weft/stats HTTP/1.1\r\nHost: evil.example\r\n\r\n"));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.error();
    EXPECT_EQ(res->status, 403);
    EXPECT_NE(res->body.find("Host"), std::string::npos) << res->body;
    EXPECT_NE(res->body.find("allowed_hosts"), std::string::npos) << res->body;
    EXPECT_FALSE(res->header("Access-Control-Allow-Origin"));
  });
}

// A cross-site page can send a POST (a form, a no-cors fetch) without reading the answer;
// the browser names the page in Origin, which must be one of the allowed hosts.
TEST(ObserveAccess, CrossOriginRequestsAreRefused) {
  Fixture f;
  f.run([&] {
    const std::uint16_t port = f.server.port();
    const std::string self = "127.0.0.1:" + std::to_string(port);
    EXPECT_EQ(status_of(port, "POST", "/_weft/demo", self, "Origin: http://" + self + "\r\n"), 200);
    EXPECT_EQ(status_of(port, "POST", "/_weft/demo", self, "Origin: http://localhost\r\n"), 200);
    EXPECT_EQ(status_of(port, "POST", "/_weft/demo", self), 200) << "no Origin: not a browser";
    for (const char* origin : {"http://evil.example", "https://evil.example:443", "null",
                               "http://127.0.0.1.evil.example", "file://", "garbage"}) {
      EXPECT_EQ(
          status_of(port, "POST", "/_weft/demo", self, "Origin: " + std::string(origin) + "\r\n"),
          403)
          << origin;
      EXPECT_EQ(
          status_of(port, "GET", "/_weft/stats", self, "Origin: " + std::string(origin) + "\r\n"),
          403)
          << origin;
    }
  });
}

// A request as the server would hand it over, from `peer`, with these header fields.
struct BuiltRequest {
  std::vector<http::HeaderField> fields;
  http::Request req;
  BuiltRequest(const char* peer, std::vector<http::HeaderField> f) : fields(std::move(f)) {
    http::RequestHead head;
    head.method = "GET";
    head.target = "/_weft/stats";
    head.fields = fields;
    weft::http::detail::RequestAccess::assign(req, head);
    weft::http::detail::RequestAccess::set_peer(
        req, std::make_shared<const net::SocketAddress>(*net::SocketAddress::parse(peer, 5)));
  }
};

bool remote_allowed(const Mount& m, std::string_view authorization) {
  BuiltRequest r("10.1.2.3", {{"Host", "localhost"}, {"Authorization", authorization}});
  return m.allows(r.req);
}

TEST(ObserveAccess, BearerSchemeIsCaseInsensitiveWithAnySpaces) {
  MountOptions options;
  options.bearer_token = "s3cret";
  Fixture f(std::move(options));
  for (const char* ok : {"Bearer s3cret", "bearer s3cret", "BEARER s3cret", "bEaReR  s3cret",
                         "Bearer      s3cret"}) {
    EXPECT_TRUE(remote_allowed(*f.obs, ok)) << ok;
  }
  for (const char* bad : {"Bearer s3cre", "Bearer s3cretX", "Bearer S3CRET", "Bearers3cret",
                          "Bearer", "Bearer ", "Basic s3cret", "Bearer\ts3cret", "Bearer s3 cret",
                          "Bearer s3cret extra", "XBearer s3cret", ""}) {
    EXPECT_FALSE(remote_allowed(*f.obs, bad)) << bad;
  }
  f.run([] {});
}

// The peer rule covers what the application adds under the prefix too (the dashboard).
TEST(ObserveAccess, RemotePeersAreRefusedOnEveryPathUnderThePrefix) {
  Fixture f;
  BuiltRequest remote("10.1.2.3", {{"Host", "localhost"}});
  BuiltRequest local("127.0.0.1", {{"Host", "localhost"}});
  for (const char* path : {"/_weft", "/_weft/", "/_weft/index.html", "/_weft/demo", "//_weft"}) {
    EXPECT_TRUE(is_under_prefix(path, "/_weft")) << path;
  }
  for (const char* path : {"/", "/_weftx", "/api/_weft", "/x/_weft/stats"}) {
    EXPECT_FALSE(is_under_prefix(path, "/_weft")) << path;
  }
  auto refused = f.obs->refusal(remote.req);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status_code(), 403);
  EXPECT_FALSE(f.obs->refusal(local.req));
  f.run([] {});
}

}  // namespace
}  // namespace weft::observe
