// HttpClientPeers.*: the client and weft-fetch against real servers started by the test:
// nginx (plain and TLS with scripts/make-cert's certificate; gzip on, so bodies come
// chunked and compressed) and a Node.js `http` server. Each is skipped when its program is
// not installed. Loopback only.
#include <gtest/gtest.h>
#include <weft/http/client.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "support/loop_testing.hpp"
#include "unit/http_client/raw_server.hpp"

namespace weft::http::ctest {
namespace {

using namespace std::chrono_literals;

bool have(const char* program) {
  return std::system(("command -v " + std::string(program) + " >/dev/null 2>&1").c_str()) == 0;
}

std::uint16_t free_port() {
  RawServer probe([](RawConn&, int) {});
  return probe.port();
}

// A child process (nginx or node) started for one test and killed at its end.
class Peer {
 public:
  Peer(std::vector<std::string> argv, std::uint16_t port) : port_(port) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    // Ready when it accepts connections (at most 5 s).
    for (int i = 0; i < 500 && !accepting(); ++i) std::this_thread::sleep_for(10ms);
  }
  ~Peer() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  bool accepting() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_;
};

std::string temp_dir() {
  char tmpl[] = "/tmp/weft-client-peer-XXXXXX";
  return ::mkdtemp(tmpl);
}

// tls_port (when not 0): the same server over TLS, with dir/cert.pem and dir/key.pem.
std::unique_ptr<Peer> start_nginx(const std::string& dir, std::uint16_t port,
                                  std::uint16_t tls_port = 0) {
  std::system(("mkdir -p " + dir + "/logs " + dir + "/www").c_str());
  std::ofstream(dir + "/www/big.txt") << std::string(30000, 'z');
  std::ofstream conf(dir + "/nginx.conf");
  conf << "daemon off; master_process off; worker_processes 1; pid " << dir << "/nginx.pid;\n"
       << "error_log " << dir << "/logs/error.log warn;\nevents { worker_connections 256; }\n"
       << "http { access_log off; client_body_temp_path " << dir << "/t1; proxy_temp_path " << dir
       << "/t2; fastcgi_temp_path " << dir << "/t3; uwsgi_temp_path " << dir
       << "/t4; scgi_temp_path " << dir << "/t5;\n  server { listen 127.0.0.1:" << port << "; root "
       << dir << "/www;\n";
  if (tls_port != 0) {
    conf << "    listen 127.0.0.1:" << tls_port << " ssl; ssl_certificate " << dir << "/cert.pem;"
         << " ssl_certificate_key " << dir << "/key.pem;\n";
  }
  conf << "    gzip on; gzip_types text/plain; gzip_min_length 100;\n"
       << "    location = /hello { return 200 \"Hello, World!\"; }\n"
       << "    location = /redir { return 301 /hello; }\n  }\n}\n";
  conf.close();
  return std::make_unique<Peer>(
      std::vector<std::string>{"nginx", "-p", dir, "-c", dir + "/nginx.conf", "-e",
                               dir + "/logs/error.log"},
      port);
}

TEST(HttpClientPeers, Nginx) {
  if (!have("nginx")) GTEST_SKIP() << "nginx not installed";
  const std::string dir = temp_dir();
  const std::uint16_t port = free_port();
  auto nginx = start_nginx(dir, port);
  ASSERT_TRUE(nginx->accepting());
  Loop loop;
  run_until_complete(loop, [&]() -> Task<void> {
    Client client(loop);
    for (int i = 0; i < 20; ++i) {
      ClientResponse res = co_await client.fetch(nginx->url("/hello"));
      std::string body = co_await res.text();
      EXPECT_EQ(body, "Hello, World!");
    }
    ClientResponse big = co_await client.fetch(nginx->url("/big.txt"));
    EXPECT_EQ(big.header("content-encoding"), "gzip");
    EXPECT_EQ(big.header("transfer-encoding"), "chunked");
    std::string big_body = co_await big.text();
    EXPECT_EQ(big_body, std::string(30000, 'z'));
    ClientResponse moved = co_await client.fetch(nginx->url("/redir"));
    std::string moved_body = co_await moved.text();
    EXPECT_EQ(moved_body, "Hello, World!");
    FetchOptions head;
    head.method = "HEAD";
    ClientResponse h = co_await client.fetch(nginx->url("/big.txt"), head);
    EXPECT_TRUE(h.body_done());
    EXPECT_EQ(client.connections_opened(), 1u);  // keep-alive all along
  }());
  loop.run();
  weft::testing::expect_clean_close(loop);
  nginx.reset();
  std::system(("rm -rf " + dir).c_str());
}

std::string run(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  status = WEXITSTATUS(::pclose(p));
  return out;
}

TEST(HttpClientPeers, WeftFetchCommandLine) {
  if (!have("nginx")) GTEST_SKIP() << "nginx not installed";
  const std::string dir = temp_dir();
  const std::uint16_t port = free_port();
  auto nginx = start_nginx(dir, port);
  const std::string bin = WEFT_FETCH_BIN;
  int rc = -1;
  EXPECT_EQ(run(bin + " " + nginx->url("/hello"), rc), "Hello, World!");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(
      run(bin + " " + nginx->url("/big.txt") + " -o " + dir + "/out && wc -c < " + dir + "/out",
          rc),
      "30000\n");
  const std::string verbose = run(bin + " -v " + nginx->url("/redir") + " 2>&1 >/dev/null", rc);
  EXPECT_NE(verbose.find("> GET /redir HTTP/1.1"), std::string::npos) << verbose;
  EXPECT_NE(verbose.find("< HTTP/1.1 301"), std::string::npos) << verbose;
  EXPECT_NE(verbose.find("> GET /hello HTTP/1.1"), std::string::npos) << verbose;
  run(bin + " " + nginx->url("/missing") + " >/dev/null", rc);
  EXPECT_EQ(rc, 0);  // a 404 is an answer
  const std::string refused =
      run(bin + " http://127.0.0.1:" + std::to_string(free_port()) + "/ 2>&1", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(refused.find("refused"), std::string::npos) << refused;
  EXPECT_EQ(std::count(refused.begin(), refused.end(), '\n'), 1);  // one line
  const std::string tls = run(bin + " https://127.0.0.1:" + std::to_string(port) + "/ 2>&1", rc);
  EXPECT_EQ(rc, 1);  // an https URL to a plain-HTTP port
  EXPECT_NE(tls.find("wrong version number"), std::string::npos) << tls;
  run(bin + " --bogus 2>/dev/null", rc);
  EXPECT_EQ(rc, 2);
  const std::string bench = run(bin + " --bench -c 4 -d 0.3 " + nginx->url("/hello"), rc);
  EXPECT_EQ(rc, 0);
  for (const char* key :
       {"requests_per_s: ", "p50_ms: ", "p99_ms: ", "errors: 0\n", "cpu_us_per_request: "})
    EXPECT_NE(bench.find(key), std::string::npos) << key << " in\n" << bench;
  nginx.reset();
  std::system(("rm -rf " + dir).c_str());
}

TEST(HttpClientPeers, NginxOverTls) {
  if (!have("nginx")) GTEST_SKIP() << "nginx not installed";
  const std::string dir = temp_dir();
  ASSERT_EQ(std::system((std::string(WEFT_SOURCE_DIR) + "/scripts/make-cert " + dir +
                         " localhost 127.0.0.1 >/dev/null")
                            .c_str()),
            0);
  const std::uint16_t port = free_port(), tls_port = free_port();
  auto nginx = start_nginx(dir, port, tls_port);
  const std::string base = "https://localhost:" + std::to_string(tls_port);
  Loop loop;
  run_until_complete(loop, [&]() -> Task<void> {
    ClientOptions co;
    co.ca_file = dir + "/cert.pem";
    Client client(loop, co);
    for (int i = 0; i < 10; ++i) {
      ClientResponse res = co_await client.fetch(base + "/hello");
      std::string body = co_await res.text();
      EXPECT_EQ(body, "Hello, World!");
    }
    ClientResponse big = co_await client.fetch(base + "/big.txt");
    EXPECT_EQ(big.header("content-encoding"), "gzip");
    std::string big_body = co_await big.text();
    EXPECT_EQ(big_body, std::string(30000, 'z'));
    ClientResponse moved = co_await client.fetch(base + "/redir");
    std::string moved_body = co_await moved.text();
    EXPECT_EQ(moved_body, "Hello, World!");
    EXPECT_EQ(client.connections_opened(), 1u);  // keep-alive over TLS
    co.max_idle_per_origin = 0;                  // a connection per fetch: each resumes
    Client fresh(loop, co);
    for (int i = 0; i < 3; ++i) {
      ClientResponse res = co_await fresh.fetch(base + "/hello");
      std::string body = co_await res.text();
      EXPECT_EQ(body, "Hello, World!");
    }
    EXPECT_EQ(fresh.connections_opened(), 3u);
    EXPECT_EQ(fresh.tls_sessions_resumed(), 2u);
  }());
  loop.run();
  weft::testing::expect_clean_close(loop);
  // weft-fetch: make-cert's certificate is self-signed: refused unless pinned or -k.
  const std::string bin = WEFT_FETCH_BIN;
  int rc = -1;
  const std::string refused = run(bin + " " + base + "/hello 2>&1", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(refused.find("self-signed certificate"), std::string::npos) << refused;
  EXPECT_EQ(std::count(refused.begin(), refused.end(), '\n'), 1) << refused;  // one line
  EXPECT_EQ(run(bin + " --cacert " + dir + "/cert.pem " + base + "/hello", rc), "Hello, World!");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(run(bin + " -k https://127.0.0.1:" + std::to_string(tls_port) + "/hello", rc),
            "Hello, World!");
  EXPECT_EQ(rc, 0);
  nginx.reset();
  std::system(("rm -rf " + dir).c_str());
}

// `openssl s_server -www` answers each connection with a page saying whether the session
// was "New" or "Reused" (then closes: HTTP/1.0): the second and third fetches resume.
TEST(HttpClientPeers, OpensslServerSeesResumedSessions) {
  if (!have("openssl")) GTEST_SKIP() << "openssl not installed";
  const std::string dir = temp_dir();
  ASSERT_EQ(std::system((std::string(WEFT_SOURCE_DIR) + "/scripts/make-cert " + dir +
                         " localhost >/dev/null")
                            .c_str()),
            0);
  const std::uint16_t port = free_port();
  Peer server({"openssl", "s_server", "-quiet", "-accept", "127.0.0.1:" + std::to_string(port),
               "-cert", dir + "/cert.pem", "-key", dir + "/key.pem", "-www"},
              port);
  ASSERT_TRUE(server.accepting());
  Loop loop;
  run_until_complete(loop, [&]() -> Task<void> {
    ClientOptions co;
    co.ca_file = dir + "/cert.pem";
    Client client(loop, co);
    for (int i = 0; i < 3; ++i) {
      ClientResponse res = co_await client.fetch("https://localhost:" + std::to_string(port) + "/");
      std::string page = co_await res.text();
      EXPECT_NE(page.find(i == 0 ? "New, TLSv1.3" : "Reused, TLSv1.3"), std::string::npos)
          << i << ": " << page;
    }
    EXPECT_EQ(client.connections_opened(), 3u);
    EXPECT_EQ(client.tls_sessions_resumed(), 2u);
  }());
  loop.run();
  weft::testing::expect_clean_close(loop);
  std::system(("rm -rf " + dir).c_str());
}

TEST(HttpClientPeers, NodeHttpServer) {
  if (!have("node")) GTEST_SKIP() << "node not installed";
  const std::uint16_t port = free_port();
  const std::string script =
      "const http=require('http');const zlib=require('zlib');"
      "http.createServer((q,s)=>{let b='';q.on('data',d=>b+=d);q.on('end',()=>{"
      "if(q.url==='/"
      "gz'){s.writeHead(200,{'Content-Encoding':'gzip'});s.end(zlib.gzipSync('node'.repeat(1000)));"
      "}"
      "else if(q.url==='/stream'){s.write('a');setTimeout(()=>{s.write('b');s.end('c');},20);}"
      "else{s.end(q.method+' '+b);}});}).listen(" +
      std::to_string(port) + ",'127.0.0.1');";
  Peer node({"node", "-e", script}, port);
  ASSERT_TRUE(node.accepting());
  Loop loop;
  run_until_complete(loop, [&]() -> Task<void> {
    Client client(loop);
    FetchOptions post;
    post.method = "POST";
    post.body = "payload";
    ClientResponse a = co_await client.fetch(node.url("/echo"), post);
    std::string ab = co_await a.text();
    EXPECT_EQ(ab, "POST payload");
    ClientResponse b = co_await client.fetch(node.url("/gz"));
    std::string bb = co_await b.text();
    EXPECT_EQ(bb.size(), 4000u);
    ClientResponse c = co_await client.fetch(node.url("/stream"));  // chunked, in pieces
    std::string cb = co_await c.text();
    EXPECT_EQ(cb, "abc");
    EXPECT_EQ(client.connections_opened(), 1u);
  }());
  loop.run();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::http::ctest
