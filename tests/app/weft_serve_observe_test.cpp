// weft-serve's /_weft/ pages as a browser elsewhere would meet them: no CORS headers, the
// Host header checked (DNS rebinding), the demo routes POST only, stacks without absolute
// addresses, the dashboard refused to remote clients like the data it shows, and the
// observe token from a file or the environment (a flag is visible in ps).
//
// "Remote" clients connect to a non-loopback address of this machine (weft-serve listens
// there with --host): their peer address is then not loopback. Without such an address
// those tests are skipped, saying so.
#include "app/serve_process.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace weft::serve_test {
namespace {

using json = nlohmann::json;

// An IPv4 address of an interface that is up and not loopback, or "".
std::string non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::string found;
  for (ifaddrs* i = list; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
    char buf[INET_ADDRSTRLEN];
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) found = buf;
  }
  ::freeifaddrs(list);
  return found;
}

itest::RawClient connect_to(const std::string& ip, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &sin.sin_addr);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    ::close(fd);
    fd = -1;
  }
  return itest::RawClient(fd);
}

// One request on a fresh connection; status 0 when nothing came back.
HttpResponse request(itest::RawClient c, const std::string& method, const std::string& target,
                     const std::string& host, const std::string& extra = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra;
  if (method == "POST") req += "Content-Length: 0\r\n";
  req += "Connection: close\r\n\r\n";
  if (!c.ok() || !c.send(req)) return {};
  auto res = c.read_response(method == "HEAD", 10000ms);
  return res ? std::move(*res) : HttpResponse{};
}

HttpResponse local(const ServeProcess& p, const std::string& method, const std::string& target,
                   const std::string& extra = "", std::string host = "") {
  if (host.empty()) host = "127.0.0.1:" + std::to_string(p.port());
  return request(itest::RawClient::tcp(p.port()), method, target, host, extra);
}

class WeftServeObserve : public ::testing::Test {
 protected:
  void start(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"--db", "sqlite::memory:", "--workers", "1"});
    ASSERT_TRUE(server_.start(flags, dir_.path())) << server_.output();
  }
  void TearDown() override {
    if (server_.pid() > 0) {
      EXPECT_EQ(server_.stop(SIGTERM), 0) << server_.output();
    }
  }
  TempDir dir_;
  ServeProcess server_;
};

TEST_F(WeftServeObserve, NoCorsHeadersUnderWeft) {
  start({});
  for (const char* path : {"/_weft/stats", "/_weft/metrics", "/_weft/", "/_weft/dashboard.js"}) {
    HttpResponse r = local(server_, "GET", path, "Origin: http://127.0.0.1\r\n");
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_FALSE(r.header("Access-Control-Allow-Origin")) << path;
    EXPECT_FALSE(r.header("Access-Control-Expose-Headers")) << path;
  }
  EXPECT_EQ(local(server_, "GET", "/api").header("Access-Control-Allow-Origin").value_or(""), "*");
}

TEST_F(WeftServeObserve, HostHeaderMustNameThisServer) {
  start({});
  std::string port = ":" + std::to_string(server_.port());
  for (const std::string& host :
       std::vector<std::string>{"127.0.0.1" + port, "localhost" + port, "[::1]" + port}) {
    EXPECT_EQ(local(server_, "GET", "/_weft/stats", "", host).status, 200) << host;
  }
  // A page on rebound.example whose name now resolves to 127.0.0.1 (DNS rebinding).
  HttpResponse r = local(server_, "GET", "/_weft/stats", "", "rebound.example" + port);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("--observe-host"), std::string::npos) << r.body;
  EXPECT_EQ(local(server_, "GET", "/_weft/", "", "rebound.example").status, 403);
  EXPECT_EQ(local(server_, "GET", "/api", "", "rebound.example").status, 200)
      << "the API is not guarded";

  ASSERT_EQ(server_.stop(SIGTERM), 0) << server_.output();
  start({"--observe-host", "metrics.example", "--observe-host", "Other.Example"});
  port = ":" + std::to_string(server_.port());
  for (const std::string& host :
       std::vector<std::string>{"127.0.0.1" + port, "metrics.example" + port, "other.example"}) {
    EXPECT_EQ(local(server_, "GET", "/_weft/stats", "", host).status, 200) << host;
    EXPECT_EQ(local(server_, "GET", "/_weft/", "", host).status, 200) << host;
  }
  EXPECT_EQ(local(server_, "GET", "/_weft/", "", "rebound.example").status, 403);
}

// SQLite's group commit shows in /_weft/stats ("db") and /_weft/metrics (weft_db_*): eight
// POSTs sent at once on eight connections are all stored and counted as grouped writes.
TEST_F(WeftServeObserve, GroupCommitFiguresAreShown) {
  start({});
  const std::string host = "127.0.0.1:" + std::to_string(server_.port());
  const std::string body = R"({"title":"x"})";
  const std::string post =
      "POST /api/notes HTTP/1.1\r\nHost: " + host +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  {  // the first document creates the collection in a transaction (never grouped): alone
    auto first = itest::RawClient::tcp(server_.port());
    ASSERT_TRUE(first.send(post));
    auto res = first.read_response(false, 10000ms);
    ASSERT_TRUE(res && res->status == 201);
  }
  std::vector<itest::RawClient> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(itest::RawClient::tcp(server_.port()));
    ASSERT_TRUE(clients.back().send(post));
  }
  for (auto& c : clients) {
    auto res = c.read_response(false, 10000ms);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 201) << res->body;
  }
  json stats = json::parse(local(server_, "GET", "/_weft/stats").body);
  ASSERT_TRUE(stats["db"].is_object()) << stats.dump();
  EXPECT_GE(stats["db"]["grouped_writes"].get<int>(), 7) << stats["db"].dump();
  EXPECT_GE(stats["db"]["groups"].get<int>(), 1);
  EXPECT_GE(stats["db"]["group_size"]["max"].get<int>(), 1);
  EXPECT_TRUE(stats["db"]["commit_ms"].contains("p99"));
  const std::string metrics = local(server_, "GET", "/_weft/metrics").body;
  for (const char* name : {"weft_db_groups_total ", "weft_db_group_size_bucket{le=\"1\"}",
                           "weft_db_commit_seconds_count ", "weft_db_group_seconds_bucket"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name;
  }
}

TEST_F(WeftServeObserve, DemoRoutesArePostOnly) {
  start({"--demo"});
  for (const char* path : {"/_weft/demo/block?ms=1", "/_weft/demo/offload?ms=1"}) {
    HttpResponse get = local(server_, "GET", path);
    EXPECT_EQ(get.status, 405) << path;
    EXPECT_EQ(get.header("Allow").value_or(""), "POST") << path;
    EXPECT_EQ(local(server_, "HEAD", path).status, 405) << path;
    EXPECT_EQ(local(server_, "POST", path).status, 200) << path;
    // A form on another site posting here: the browser says where it comes from.
    EXPECT_EQ(local(server_, "POST", path, "Origin: http://evil.example\r\n").status, 403) << path;
  }
}

TEST_F(WeftServeObserve, StallStacksCarryModuleOffsetsNotAddresses) {
  start({"--demo"});
  ASSERT_EQ(local(server_, "POST", "/_weft/demo/block?ms=300").status, 200);
  json stats;
  for (int i = 0; i < 100 && (stats.empty() || stats["recent_stalls"].empty()); ++i) {
    std::this_thread::sleep_for(50ms);
    stats = json::parse(local(server_, "GET", "/_weft/stats").body);
  }
  ASSERT_FALSE(stats["recent_stalls"].empty()) << stats.dump();
  const json& stack = stats["recent_stalls"][0]["stack"];
  ASSERT_GT(stack.size(), 2u) << stats.dump();
  bool in_binary = false;
  for (const auto& f : stack) {
    const std::string frame = f.get<std::string>();
    EXPECT_EQ(frame.find('/'), std::string::npos) << "a path in " << frame;
    for (std::size_t at = frame.find("0x"); at != std::string::npos;
         at = frame.find("0x", at + 2)) {
      EXPECT_LT(std::strtoull(frame.c_str() + at + 2, nullptr, 16), 1ull << 40)
          << "an absolute address in " << frame;
    }
    in_binary = in_binary || frame.find("weft-serve+0x") != std::string::npos;
  }
  EXPECT_TRUE(in_binary) << stack.dump(1);
  EXPECT_NE(stack.dump().find("weft_demo_burn_cpu"), std::string::npos) << stack.dump(1);
}

// Two loops (one Site each): /_weft/metrics has a loop="N" series per loop, and a request
// that blocks loop 1 is reported by that loop's watchdog, named, with its route.
TEST_F(WeftServeObserve, EveryLoopIsShownAndABlockedOneIsNamed) {
  ASSERT_TRUE(server_.start(
      {"--db", "sqlite:" + dir_.path() + "/two.db", "--workers", "2", "--demo"}, dir_.path()))
      << server_.output();
  json stats;
  bool loop1_stalled = false;
  for (int i = 0; i < 60 && !loop1_stalled; ++i) {  // the kernel picks each connection's loop
    ASSERT_EQ(local(server_, "POST", "/_weft/demo/block?ms=150").status, 200);
    stats = json::parse(local(server_, "GET", "/_weft/stats").body);
    for (const auto& r : stats["recent_stalls"]) {
      loop1_stalled |=
          r.value("loop", "") == "loop 1" && r.value("label", "") == "POST /_weft/demo/block";
    }
  }
  EXPECT_TRUE(loop1_stalled) << stats.dump();
  EXPECT_EQ(stats["loops"], 2);
  ASSERT_EQ(stats["each_loop"].size(), 2u) << stats.dump();
  const std::string metrics = local(server_, "GET", "/_weft/metrics").body;
  for (const char* series :
       {"weft_loop_iterations_total{loop=\"0\"}", "weft_loop_iterations_total{loop=\"1\"}",
        "weft_http_requests_total{method=\"POST\",loop=\"1\"}"}) {
    EXPECT_NE(metrics.find(series), std::string::npos) << series;
  }
  // Not necessarily stall #1: on a loaded machine loop 1's start-up may stall first.
  EXPECT_NE(server_.output().find(" on loop 1: POST /_weft/demo/block running for"),
            std::string::npos)
      << server_.output();
}

TEST_F(WeftServeObserve, RemoteClientsGetNeitherTheDashboardNorItsData) {
  const std::string ip = non_loopback_ipv4();
  if (ip.empty()) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
  start({"--host", ip, "--demo"});
  const std::string host = ip + ":" + std::to_string(server_.port());
  for (const char* path : {"/_weft/", "/_weft/dashboard.js", "/_weft/dashboard.css", "/_weft/stats",
                           "/_weft/metrics"}) {
    EXPECT_EQ(request(connect_to(ip, server_.port()), "GET", path, host).status, 403) << path;
  }
  EXPECT_EQ(request(connect_to(ip, server_.port()), "POST", "/_weft/demo/block?ms=1", host).status,
            403);
  EXPECT_EQ(request(connect_to(ip, server_.port()), "GET", "/api", host).status, 200);
}

// The token reaches weft-serve without appearing on its command line.
TEST_F(WeftServeObserve, TokenFromAFileOrTheEnvironment) {
  const std::string ip = non_loopback_ipv4();
  if (ip.empty()) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
  auto status = [&](const std::string& authorization) {
    const std::string host = ip + ":" + std::to_string(server_.port());
    const std::string extra =
        authorization.empty() ? "" : "Authorization: " + authorization + "\r\n";
    return request(connect_to(ip, server_.port()), "GET", "/_weft/stats", host, extra).status;
  };
  dir_.write("token", "from-the-file\n");
  start({"--host", ip, "--observe-token-file", dir_.file("token")});
  EXPECT_EQ(status(""), 403);
  EXPECT_EQ(status("Bearer from-the-file"), 200);
  EXPECT_EQ(status("bearer   from-the-file"), 200);
  EXPECT_EQ(status("Bearer from-the-fil"), 403);
  ASSERT_EQ(server_.stop(SIGTERM), 0) << server_.output();
  server_.set_env({"WEFT_OBSERVE_TOKEN=from-the-environment"});
  start({"--host", ip});
  EXPECT_EQ(status("Bearer from-the-environment"), 200);
  EXPECT_EQ(status("Bearer from-the-file"), 403);
}

TEST(WeftServeObserveCli, TokenFlagsAreDocumentedAndChecked) {
  TempDir dir;
  ServeProcess help;
  ASSERT_TRUE(help.start({"--help"}, dir.path(), false));
  EXPECT_EQ(help.wait_exit(), 0);
  for (const char* text : {"--observe-token-file", "WEFT_OBSERVE_TOKEN", "ps", "--observe-host"}) {
    EXPECT_NE(help.output().find(text), std::string::npos) << text;
  }
  ServeProcess missing;
  ASSERT_TRUE(missing.start({"--observe-token-file", dir.file("absent")}, dir.path(), false));
  EXPECT_EQ(missing.wait_exit(), 2);
  EXPECT_NE(missing.output().find(dir.file("absent")), std::string::npos) << missing.output();
  dir.write("empty", "\n");
  ServeProcess empty;
  ASSERT_TRUE(empty.start({"--observe-token-file", dir.file("empty")}, dir.path(), false));
  EXPECT_EQ(empty.wait_exit(), 2);
  EXPECT_NE(empty.output().find("empty"), std::string::npos) << empty.output();
}

}  // namespace
}  // namespace weft::serve_test
