// /_weft/metrics (checked by promtool), /_weft/stats (parsed as JSON) and
// /_weft/stats/stream (server-sent events) on a real server, plus the access rules.
#include <weft/http/server.hpp>
#include <weft/observe/mount.hpp>

#include "integration/http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace weft::observe {
namespace {

using namespace std::chrono_literals;

std::string find_promtool() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    std::string p = std::string(dir) + "/promtool";
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

// Runs `promtool check metrics` on text; returns its exit status and output.
int promtool_check(const std::string& text, std::string& output) {
  const std::string promtool = find_promtool();
  if (promtool.empty()) {
    output = "promtool not found (Debian package prometheus; scripts/install-deps)";
    return -1;
  }
  char path[] = "/tmp/weft-metrics-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return -1;
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
  const std::string cmd = promtool + " check metrics < " + path + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) output += buf;
  int status = p ? ::pclose(p) : -1;
  ::unlink(path);
  return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Fixture {
  Loop loop;
  http::Server server{loop};
  std::unique_ptr<Mount> obs;
  explicit Fixture(MountOptions options = {}) {
    server.get("/plaintext", [](http::Request&) { return http::Response::text("Hello, World!"); });
    server.post("/echo", [](http::Request& r) { return http::Response::text(r.body()); });
    obs = mount(server, std::move(options));
    EXPECT_FALSE(server.listen(0));
  }
  // Runs the client, then closes the Mount on the loop once the server has closed.
  void run(std::function<void()> client) {
    itest::run_with_client(loop, server, std::move(client));
    obs.reset();
    loop.run();
    testing::expect_clean_close(loop);
  }
};

// A GET as a local client sends it: the endpoints answer only Hosts naming this machine
// (itest::get_request's "Host: test" is refused, see access_test.cpp).
std::string local_get(std::string_view path, std::string_view extra_headers = {}) {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n" +
         std::string(extra_headers) + "\r\n";
}

std::optional<itest::HttpResponse> get(itest::RawClient& c, std::string_view path) {
  if (!c.send(local_get(path))) return std::nullopt;
  return c.read_response();
}

TEST(Exposure, PrometheusTextPassesPromtool) {
  Fixture f;
  std::string metrics;
  f.run([&] {
    auto c = itest::RawClient::tcp(f.server.port());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(get(c, "/plaintext"));
    ASSERT_TRUE(get(c, "/missing"));
    ASSERT_TRUE(c.send(itest::post_request("/echo", "abc")) && c.read_response());
    std::this_thread::sleep_for(50ms);
    auto res = get(c, "/_weft/metrics");
    ASSERT_TRUE(res) << c.error();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->header("content-type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
    metrics = res->body;
  });
  std::string out;
  EXPECT_EQ(promtool_check(metrics, out), 0) << out << "\n---\n" << metrics;
  EXPECT_NE(metrics.find("weft_http_requests_total{method=\"GET\"} 22"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("weft_http_requests_total{method=\"POST\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("weft_http_responses_total{class=\"4xx\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("weft_http_responses_total{class=\"2xx\"} 21"), std::string::npos);
  EXPECT_NE(metrics.find("weft_loop_lag_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(metrics.find("weft_pool_run_seconds_count{class=\"cpu\"}"), std::string::npos);
  EXPECT_NE(metrics.find("weft_http_requests_in_flight 1"), std::string::npos)
      << "the metrics request itself is in flight";
  EXPECT_NE(metrics.find("weft_http_connections_rejected_total{reason=\"limit\"} 0"),
            std::string::npos);
  EXPECT_NE(metrics.find("weft_http_connections_rejected_total{reason=\"emfile\"} 0"),
            std::string::npos);
}

TEST(Exposure, StatsIsJsonWithTheDocumentedShape) {
  Fixture f;
  std::string body;
  f.run([&] {
    auto c = itest::RawClient::tcp(f.server.port());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(get(c, "/plaintext"));
    auto res = get(c, "/_weft/stats");
    ASSERT_TRUE(res) << c.error();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->header("content-type").value_or(""), "application/json");
    body = res->body;
  });
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << body;
  EXPECT_EQ(j["loops"], 1);
  EXPECT_TRUE(j["loop"]["lag_ms"]["p99"].is_number());
  EXPECT_TRUE(j["loop"]["window"]["utilization"].is_number());
  EXPECT_TRUE(j["loop"]["active_handles"]["listener"].is_number());
  EXPECT_GE(j["loop"]["active_handles"]["tcp"].get<int>(), 1);
  EXPECT_EQ(j["http"]["requests"]["GET"], 6);
  EXPECT_EQ(j["http"]["responses"]["2xx"], 5);
  EXPECT_EQ(j["http"]["in_flight"], 1);
  EXPECT_EQ(j["http"]["open_connections"], 1);
  EXPECT_GT(j["http"]["bytes_in"].get<int>(), 100);
  EXPECT_TRUE(j["pools"]["cpu"]["run_ms"]["p50"].is_number());
  EXPECT_TRUE(j["recent_stalls"].is_array());
}

TEST(Exposure, StreamSendsAnEventPerInterval) {
  MountOptions options;
  options.stream_interval = 100ms;
  Fixture f(std::move(options));
  std::string received;
  f.run([&] {
    auto c = itest::RawClient::tcp(f.server.port());
    ASSERT_TRUE(c.send(local_get("/_weft/stats/stream")));
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::size_t events = 0;
    while (events < 3 && std::chrono::steady_clock::now() < deadline) {
      received += c.read_some(100ms);
      events = 0;
      for (std::size_t at = received.find("data: {"); at != std::string::npos;
           at = received.find("data: {", at + 1)) {
        ++events;
      }
    }
    EXPECT_GE(events, 3u) << received;
  });
  EXPECT_NE(received.find("Content-Type: text/event-stream"), std::string::npos) << received;
  EXPECT_NE(received.find("Transfer-Encoding: chunked"), std::string::npos);
}

// A request from `peer` ("" for none) carrying "Host: localhost", as the server builds it.
struct PeerRequest {
  std::vector<http::HeaderField> fields{{"Host", "localhost"}};
  http::Request req;
  explicit PeerRequest(const char* peer) {
    http::RequestHead head;
    head.method = "GET";
    head.target = "/_weft/stats";
    head.fields = fields;
    weft::http::detail::RequestAccess::assign(req, head);
    if (*peer) {
      weft::http::detail::RequestAccess::set_peer(
          req, std::make_shared<const net::SocketAddress>(*net::SocketAddress::parse(peer, 5)));
    }
  }
};

TEST(Exposure, AccessRules) {
  Fixture f;
  EXPECT_TRUE(f.obs->allows(PeerRequest("127.0.0.1").req));
  EXPECT_TRUE(f.obs->allows(PeerRequest("::ffff:127.0.0.1").req));
  EXPECT_TRUE(f.obs->allows(PeerRequest("::1").req));
  EXPECT_FALSE(f.obs->allows(PeerRequest("10.1.2.3").req));
  EXPECT_FALSE(f.obs->allows(PeerRequest("").req));
  f.run([] {});
}

TEST(Exposure, BearerTokenIsChecked) {
  MountOptions options;
  options.bearer_token = "s3cret";
  Fixture f(std::move(options));
  f.run([&] {
    auto c = itest::RawClient::tcp(f.server.port());
    // loopback without a token: still allowed (the default rule)
    auto res = get(c, "/_weft/stats");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ASSERT_TRUE(c.send(local_get("/_weft/metrics", "Authorization: Bearer s3cret\r\n")));
    res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  });
}

TEST(Exposure, ClosedMountAnswers404) {
  Fixture f;
  itest::run_with_client(f.loop, f.server, [&] {
    f.loop.post([&] { f.obs.reset(); });
    std::this_thread::sleep_for(50ms);
    auto c = itest::RawClient::tcp(f.server.port());
    auto res = get(c, "/_weft/stats");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404);
  });
  testing::expect_clean_close(f.loop);
}

}  // namespace
}  // namespace weft::observe
