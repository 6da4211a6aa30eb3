// The TLS figures of /_weft/stats and /_weft/metrics (tls::stats, tls::ktls_status): the
// handshake counters move with real clients (openssl s_client, full then resumed; plain
// HTTP on the TLS port), and the kTLS path reported is the one the probe found.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"
#include "support/tls_certs.hpp"

#include <weft/http/server.hpp>
#include <weft/observe/mount.hpp>
#include <weft/tls/context.hpp>
#include <weft/tls/stats.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace weft::itest {
namespace {

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

// "key value" lines -> map.
std::map<std::string, std::string> parse_lines(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find(' ');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

TEST(TlsStats, KtlsClassification) {
  const tls::KtlsStatus none = tls::classify_ktls("mptcp", ENOENT);
  EXPECT_FALSE(none.kernel);
  EXPECT_FALSE(none.in_use);
  EXPECT_EQ(none.reason, "kernel offers no tls ULP (tcp_available_ulp: mptcp)");
  const tls::KtlsStatus unreadable = tls::classify_ktls("", ENOENT);
  EXPECT_TRUE(contains(unreadable.reason, "unreadable")) << unreadable.reason;
  const tls::KtlsStatus offered = tls::classify_ktls("mptcp tls", 0);
  EXPECT_TRUE(offered.kernel);
  EXPECT_FALSE(offered.in_use);  // the memory-BIO design never hands keys to the kernel
  EXPECT_TRUE(contains(offered.reason, "memory BIOs")) << offered.reason;
  const tls::KtlsStatus refused = tls::classify_ktls("tls", EPERM);
  EXPECT_FALSE(refused.kernel);
  EXPECT_TRUE(contains(refused.reason, "setsockopt(TCP_ULP, \"tls\") failed")) << refused.reason;
}

// The probe agrees with the kernel's list: a kernel that lists no tls ULP and cannot load
// it (this CI machine) reports why; one that lists it was probed with setsockopt.
TEST(TlsStats, KtlsProbeMatchesTheKernel) {
  std::ifstream in("/proc/sys/net/ipv4/tcp_available_ulp");
  std::string ulps;
  std::getline(in, ulps);
  const tls::KtlsStatus& k = tls::ktls_status();
  EXPECT_FALSE(k.in_use);
  EXPECT_FALSE(k.reason.empty());
  if (!k.kernel && !contains(" " + ulps + " ", " tls ")) {
    EXPECT_EQ(k.reason, "kernel offers no tls ULP (tcp_available_ulp: " + ulps + ")");
  }
  EXPECT_EQ(&k, &tls::ktls_status());  // probed once
}

TEST(TlsStats, StatsEndpointCountsHandshakesAndNamesTheKtlsPath) {
  testing::TestCa ca;
  char tmpl[] = "/tmp/weft-https-stats-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  testing::Pem leaf = ca.issue({"localhost", "127.0.0.1"});
  tls::ServerConfig cfg;
  cfg.certificates = {
      {.cert_file = {}, .key_file = {}, .cert_pem = leaf.cert, .key_pem = leaf.key}};
  cfg.handshake_inline_when_idle = false;  // every signing step on the pool (counted below)
  const tls::Context ctx = tls::Context::server(cfg);
  Loop loop;
  std::string json_fields, metrics;
  {
    http::ServerOptions options;
    options.tls = ctx;
    http::Server server(loop, options);
    server.get("/plaintext",
               [](http::Request&) { return http::Response::bytes("Hello, World!", "text/plain"); });
    auto obs = observe::mount(server);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::string p = std::to_string(server.port());
    run_with_client(loop, server, [&] {
      const std::string base =
          "openssl s_client -tls1_3 -connect 127.0.0.1:" + p + " -servername localhost";
      const std::string first = sh("(sleep 0.3; echo) | " + base + " -sess_out " + dir + "/sess");
      EXPECT_TRUE(contains(first, "New, TLSv1.3")) << first;
      const std::string second = sh("(sleep 0.3; echo) | " + base + " -sess_in " + dir + "/sess");
      EXPECT_TRUE(contains(second, "Reused, TLSv1.3")) << second;
      sh("curl -s -m 5 http://127.0.0.1:" + p + "/plaintext");  // plain HTTP: a failed handshake
      // "key json-value" lines of the snapshot's "tls" object
      json_fields =
          sh("curl -sk -m 5 -H \"Host: localhost\" https://127.0.0.1:" + p +
             "/_weft/stats | python3 -c \"import json,sys\n"
             "for k,v in json.load(sys.stdin)[sys.argv[1]].items(): print(k, json.dumps(v))\" tls");
      metrics =
          sh("curl -sk -m 5 -H \"Host: localhost\" https://127.0.0.1:" + p + "/_weft/metrics");
    });
    obs.reset();
    loop.run();
  }
  testing::expect_clean_close(loop);
  std::system(("rm -rf " + dir).c_str());

  const auto t = parse_lines(json_fields);
  ASSERT_TRUE(t.count("ktls")) << json_fields;
  const tls::KtlsStatus& k = tls::ktls_status();
  EXPECT_EQ(t.at("ktls"), "false");
  EXPECT_EQ(t.at("ktls_kernel"), k.kernel ? "true" : "false");
  EXPECT_EQ(t.at("reason"), "\"" + k.reason + "\"");
  // s_client twice and the stats request itself; the plain-HTTP bytes failed.
  EXPECT_EQ(t.at("handshakes_done"), "3") << json_fields;
  EXPECT_EQ(t.at("resumed"), "1") << json_fields;
  EXPECT_EQ(t.at("handshakes_failed"), "1") << json_fields;
  EXPECT_EQ(t.at("handshakes_refused"), "0") << json_fields;
  EXPECT_EQ(t.at("handshakes_in_progress"), "0") << json_fields;
  // handshake_on_pool: the step answering a ClientHello runs on the pool
  // (4: the plain-HTTP bytes failed in theirs), the client's second flight inline (3).
  EXPECT_GE(std::stoul(t.at("pool_steps")), 4u) << json_fields;
  EXPECT_GE(std::stoul(t.at("inline_steps")), 3u) << json_fields;
  EXPECT_TRUE(contains(metrics, "weft_tls_handshakes_total{outcome=\"done\"} 4"))
      << metrics;  // + the stats one
  EXPECT_TRUE(contains(metrics, "weft_tls_ktls 0")) << metrics;
  const tls::Stats after = tls::stats(ctx);
  EXPECT_EQ(after.handshakes_done, 4u);
  EXPECT_EQ(after.resumed, 1u);
}

}  // namespace
}  // namespace weft::itest
