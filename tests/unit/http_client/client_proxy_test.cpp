// HttpClientProxy.*: fetches through an HTTP proxy written for the test (a thread with
// blocking sockets on 127.0.0.1): https origins through CONNECT tunnels (TLS end to end
// inside, sessions resumed through the tunnel), http origins in absolute form, a proxy that
// refuses CONNECT, one that cannot be reached, the environment's HTTPS_PROXY/NO_PROXY, and
// proxy credentials (Proxy-Authorization: Basic to the proxy only; 407 reported as such).
// The proxy sends every tunnel to 127.0.0.1 whatever the name, so the origins' names
// (origin.test) never reach a resolver.
#include <gtest/gtest.h>
#include <weft/http/client.hpp>
#include <weft/http/server.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>

#include <arpa/inet.h>
#include <poll.h>

#include <cctype>
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

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Copies bytes both ways until either side closes.
void relay(int a, int b) {
  char buf[16384];
  pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  while (::poll(p, 2, 5000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      if (::send(p[1 - i].fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
    }
  }
}

std::string lowered(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The value of field `name` (lower case) in a request head; "-" when absent.
std::string field_of(const std::string& head, const std::string& name) {
  const std::size_t at = lowered(head).find("\r\n" + name + ": ");
  if (at == std::string::npos) return "-";
  const std::size_t from = at + 4 + name.size();
  return head.substr(from, head.find("\r\n", from) - from);
}

// CONNECT host:port → a tunnel to 127.0.0.1:port (or `refuse` as the answer); any other
// request → answered by the proxy itself with its request line as the body. With
// `want_auth`, a request without exactly that Proxy-Authorization value gets 407.
class Proxy {
 public:
  explicit Proxy(std::string refuse = {}, std::string want_auth = {})
      : refuse_(std::move(refuse)),
        want_auth_(std::move(want_auth)),
        server_([this](RawConn& c, int) { serve(c); }) {}
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::uint16_t port() const { return server_.port(); }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> g(m_);
    return lines_;
  }
  std::vector<std::string> heads() {
    std::lock_guard<std::mutex> g(m_);
    return heads_;
  }

 private:
  void serve(RawConn& c) {
    const std::string req = c.read_request();
    if (req.empty()) return;
    const std::string line = req.substr(0, req.find("\r\n"));
    {
      std::lock_guard<std::mutex> g(m_);
      lines_.push_back(line);
      heads_.push_back(req.substr(0, req.find("\r\n\r\n") + 2));
    }
    if (!want_auth_.empty() && field_of(req, "proxy-authorization") != want_auth_) {
      c.send(
          "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
          "realm=\"weft-test\"\r\n"
          "Content-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    if (line.rfind("CONNECT ", 0) != 0) {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(line.size()) +
             "\r\nConnection: close\r\n\r\n" + line);
      return;
    }
    if (!refuse_.empty()) {
      c.send("HTTP/1.1 " + refuse_ + "\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const std::string authority = line.substr(8, line.find(' ', 8) - 8);
    const int up = connect_loopback(
        static_cast<std::uint16_t>(std::stoi(authority.substr(authority.rfind(':') + 1))));
    if (up < 0) {
      c.send("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    c.send("HTTP/1.1 200 Connection Established\r\n\r\n");
    relay(c.fd(), up);
    ::close(up);
  }
  std::string refuse_, want_auth_;
  std::mutex m_;
  std::vector<std::string> lines_, heads_;
  RawServer server_;
};

struct Origin {
  explicit Origin(Loop& loop) : server(loop, options(ca)) {
    server.get("/hello", [](Request&) { return Response::text("Hello, World!"); });
    server.get("/seen", [](Request& req) {  // what reached the origin of proxy credentials
      return Response::text("[" + std::string(req.header("proxy-authorization")) + "]");
    });
    EXPECT_FALSE(server.listen(0, "127.0.0.1"));
    char tmpl[] = "/tmp/weft-client-proxy-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ca_file = dir + "/ca.pem";
    weft::testing::write_file(ca_file, ca.cert_pem());
  }
  ~Origin() { std::system(("rm -rf " + dir).c_str()); }
  static ServerOptions options(const TestCa& ca) {
    const Pem p = ca.issue({"origin.test"});
    tls::ServerConfig c;
    c.certificates.push_back(
        {.cert_file = {}, .key_file = {}, .cert_pem = p.cert, .key_pem = p.key});
    ServerOptions o;
    o.tls = tls::Context::server(c);
    return o;
  }
  std::string url(std::string_view path) const {
    return "https://origin.test:" + std::to_string(server.port()) + std::string(path);
  }
  TestCa ca;
  Server server;
  std::string dir, ca_file;
};

// No default argument for `o`: GCC 12 destroys a defaulted temporary of a coroutine twice.
Task<std::string> get(Client& client, std::string url, FetchOptions o) {
  try {
    ClientResponse res = co_await client.fetch(std::move(url), std::move(o));
    std::string body = co_await res.text();
    co_return body;
  } catch (const FetchError& e) {
    co_return "error " + std::string(to_string(e.kind())) + ": " + e.what();
  }
}

Task<std::string> get(Client& client, std::string url) {
  FetchOptions o;
  return get(client, std::move(url), std::move(o));
}

bool contains(const std::string& hay, std::string_view needle) {
  return hay.find(needle) != std::string::npos;
}

TEST(HttpClientProxy, HttpsThroughConnectAndHttpInAbsoluteForm) {
  Proxy proxy;
  Loop loop;
  {
    Origin origin(loop);
    ClientOptions co;
    co.proxy = proxy.url();
    co.ca_file = origin.ca_file;
    co.max_idle_per_origin = 0;  // the test proxy serves one connection at a time
    Client client(loop, co);
    run_until_complete(loop, [&]() -> Task<void> {
      for (int i = 0; i < 2; ++i) {
        std::string body = co_await get(client, origin.url("/hello"));
        EXPECT_EQ(body, "Hello, World!");
      }
      FetchOptions o;
      o.proxy = proxy.url();  // per fetch as well
      std::string plain = co_await get(client, "http://origin.test:81/a?b=1", o);
      EXPECT_EQ(plain, "GET http://origin.test:81/a?b=1 HTTP/1.1");
      origin.server.close();
    }());
    EXPECT_EQ(client.tls_sessions_resumed(), 1u);  // the second tunnel resumed the first's session
    const std::string connect =
        "CONNECT origin.test:" + std::to_string(origin.server.port()) + " HTTP/1.1";
    ASSERT_EQ(proxy.lines().size(), 3u);
    EXPECT_EQ(proxy.lines()[0], connect);
    EXPECT_EQ(proxy.lines()[1], connect);
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClientProxy, RefusedAndUnreachableProxiesSaySo) {
  Proxy refusing("403 Forbidden");
  std::uint16_t dead_port = 0;
  {
    RawServer probe([](RawConn&, int) {});
    dead_port = probe.port();
  }
  Loop loop;
  {
    Origin origin(loop);
    ClientOptions co;
    co.ca_file = origin.ca_file;
    Client client(loop, co);
    run_until_complete(loop, [&]() -> Task<void> {
      FetchOptions via;
      via.proxy = refusing.url();
      std::string r = co_await get(client, origin.url("/hello"), via);
      EXPECT_TRUE(contains(r, "error proxy: proxy 127.0.0.1:")) << r;
      EXPECT_TRUE(contains(r, "refused CONNECT origin.test:")) << r;
      EXPECT_TRUE(contains(r, ": 403 Forbidden")) << r;
      FetchOptions dead;
      dead.proxy = "127.0.0.1:" + std::to_string(dead_port);
      std::string u = co_await get(client, origin.url("/hello"), dead);
      EXPECT_EQ(u, "error proxy: proxy unreachable: connect to 127.0.0.1:" +
                       std::to_string(dead_port) + " refused");
      FetchOptions bad;
      bad.proxy = "https://127.0.0.1:1";
      std::string b = co_await get(client, origin.url("/hello"), bad);
      EXPECT_TRUE(contains(
          b,
          "error bad_url: proxy 'https://127.0.0.1:1': https:// proxies (TLS to the proxy) are "
          "not supported; use an http:// proxy"))
          << b;
      FetchOptions ftp;
      ftp.proxy = "http+unix://%2Ftmp%2Fp.sock";
      std::string f = co_await get(client, origin.url("/hello"), ftp);
      EXPECT_TRUE(
          contains(f, "error bad_url: proxy 'http+unix://%2Ftmp%2Fp.sock': only http:// proxies"))
          << f;
      origin.server.close();
    }());
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

// Restores one environment variable at the end of a test.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~EnvVar() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(HttpClientProxy, EnvironmentReadOncePerClient) {
  Proxy proxy;
  EnvVar https_upper("HTTPS_PROXY", nullptr), https_lower("https_proxy", proxy.url().c_str());
  EnvVar http_upper("HTTP_PROXY", nullptr), http_lower("http_proxy", nullptr);
  EnvVar no_upper("NO_PROXY", "skip.test, .other.test"), no_lower("no_proxy", nullptr);
  Loop loop;
  {
    Origin origin(loop);
    ClientOptions co;
    co.ca_file = origin.ca_file;
    co.max_idle_per_origin = 0;
    Client client(loop, co);
    ::unsetenv("https_proxy");  // read once: the client keeps what it saw
    run_until_complete(loop, [&]() -> Task<void> {
      std::string body = co_await get(client, origin.url("/hello"));
      EXPECT_EQ(body, "Hello, World!");
      origin.server.close();
    }());
    EXPECT_EQ(proxy.lines().size(), 1u);
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
  // Which fetches go through the environment's proxy.
  ::setenv("HTTPS_PROXY", "127.0.0.1:3128", 1);
  detail::ClientState st(loop, ClientOptions{});
  const FetchOptions none;
  auto route = [&](const char* url) {
    return st.proxy_for(client_detail::parse_url(url), none).url;
  };
  EXPECT_EQ(route("https://origin.test/"), "http://127.0.0.1:3128");
  EXPECT_EQ(route("https://skip.test/"), "");
  EXPECT_EQ(route("https://a.skip.test/"), "");
  EXPECT_EQ(route("https://noskip.test/"), "http://127.0.0.1:3128");
  EXPECT_EQ(route("https://other.test/"), "");
  EXPECT_EQ(route("https://localhost/"), "");  // loopback: never through the environment
  EXPECT_EQ(route("https://127.0.0.2:8443/"), "");
  EXPECT_EQ(route("https://[::1]/"), "");
  EXPECT_EQ(route("http://origin.test/"), "");  // no HTTP_PROXY
  ClientOptions off;
  off.proxy_from_env = false;
  detail::ClientState ignoring(loop, off);
  EXPECT_EQ(ignoring.proxy_for(client_detail::parse_url("https://origin.test/"), none).url, "");
  // The environment's proxy URL may carry credentials.
  ::setenv("HTTPS_PROXY", "a:b@127.0.0.1:3128", 1);
  detail::ClientState with_credentials(loop, ClientOptions{});
  const detail::ProxyRoute r =
      with_credentials.proxy_for(client_detail::parse_url("https://origin.test/"), none);
  EXPECT_EQ(r.url, "http://127.0.0.1:3128");
  EXPECT_EQ(r.authorization, "Basic YTpi");
}

TEST(HttpClientProxy, CredentialsAreParsedAndNeverShown) {
  using client_detail::split_proxy_credentials;
  const client_detail::ProxyCredentials c =
      split_proxy_credentials("http://us%20er:p%40ss%3Aw@proxy.test:3128/");
  EXPECT_TRUE(c.present);
  EXPECT_EQ(c.url, "http://proxy.test:3128/");
  EXPECT_EQ(c.user, "us er");
  EXPECT_EQ(c.password, "p@ss:w");
  const client_detail::ProxyCredentials user_only =
      split_proxy_credentials("http://bob@proxy.test:3128");
  EXPECT_EQ(user_only.user, "bob");
  EXPECT_EQ(user_only.password, "");
  EXPECT_FALSE(split_proxy_credentials("http://proxy.test:3128/a@b").present);  // '@' in the path
  EXPECT_EQ(client_detail::base64("us er:p@ss:w"), "dXMgZXI6cEBzczp3");
  EXPECT_EQ(client_detail::base64(""), "");
  EXPECT_EQ(client_detail::base64("a"), "YQ==");
  EXPECT_EQ(client_detail::base64("ab"), "YWI=");
  for (const char* bad : {"http://a:%zz-secret@proxy.test:1", "http://:secret@proxy.test:1",
                          "http://a%3Ab:secret@proxy.test:1"}) {
    try {
      (void)split_proxy_credentials(bad);
      ADD_FAILURE() << bad;
    } catch (const FetchError& e) {
      EXPECT_EQ(e.kind(), FetchErrc::bad_url);
      EXPECT_TRUE(contains(e.what(), "bad proxy URL http://proxy.test:1 (credentials not shown)"))
          << e.what();
      EXPECT_FALSE(contains(e.what(), "secret")) << e.what();
    }
  }
}

// Credentials of the proxy URL go to the proxy (CONNECT and absolute form), never to the
// origin; a proxy that wants them (407) is FetchErrc::proxy saying so.
TEST(HttpClientProxy, CredentialsGoToTheProxyOnly) {
  Proxy proxy({}, "Basic dXMgZXI6cEBzczp3");  // "us er:p@ss:w"
  const std::string port = std::to_string(proxy.port());
  const std::string with = "http://us%20er:p%40ss%3Aw@127.0.0.1:" + port;
  Loop loop;
  {
    Origin origin(loop);
    ClientOptions co;
    co.ca_file = origin.ca_file;
    co.max_idle_per_origin = 0;  // the test proxy serves one connection at a time
    Client client(loop, co);
    run_until_complete(loop, [&]() -> Task<void> {
      FetchOptions via;
      via.proxy = with;
      via.headers = {{"Proxy-Authorization", "Basic bGVhaw=="}};  // never sent anywhere
      std::string seen = co_await get(client, origin.url("/seen"), via);
      EXPECT_EQ(seen, "[]");  // nothing of it inside the tunnel
      std::string plain = co_await get(client, "http://origin.test:81/a", via);
      EXPECT_EQ(plain, "GET http://origin.test:81/a HTTP/1.1");
      const std::string wants =
          "error proxy: proxy 127.0.0.1:" + port +
          " wants credentials (407 Proxy Authentication Required); it asks for: Basic "
          "realm=\"weft-test\"; give them in the proxy URL: http://user:password@host:port";
      FetchOptions anon;
      anon.proxy = proxy.url();
      std::string a = co_await get(client, origin.url("/hello"), anon);
      EXPECT_EQ(a, wants);  // CONNECT answered 407
      std::string b = co_await get(client, "http://origin.test:81/a", anon);
      EXPECT_EQ(b, wants);  // an absolute-form request answered 407
      FetchOptions wrong;
      wrong.proxy = "http://us%20er:nope@127.0.0.1:" + port;
      std::string w = co_await get(client, origin.url("/hello"), wrong);
      EXPECT_TRUE(contains(
          w, "error proxy: proxy 127.0.0.1:" + port +
                 " rejected the credentials of the proxy URL (407 Proxy Authentication Required)"))
          << w;
      EXPECT_FALSE(contains(w, "nope")) << w;
      origin.server.close();
    }());
    const std::vector<std::string> heads = proxy.heads();
    ASSERT_EQ(heads.size(), 5u);
    EXPECT_EQ(heads[0].rfind("CONNECT origin.test:", 0), 0u) << heads[0];
    EXPECT_EQ(field_of(heads[0], "proxy-authorization"), "Basic dXMgZXI6cEBzczp3") << heads[0];
    EXPECT_EQ(heads[1].rfind("GET http://origin.test:81/a ", 0), 0u) << heads[1];
    EXPECT_EQ(field_of(heads[1], "proxy-authorization"), "Basic dXMgZXI6cEBzczp3") << heads[1];
    for (const std::string& h : heads) EXPECT_FALSE(contains(h, "bGVhaw")) << h;
    EXPECT_EQ(field_of(heads[2], "proxy-authorization"), "-");
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::http::ctest
