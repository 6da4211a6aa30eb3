// The server as Debian's curl sees it: routing, middleware, coroutine handlers, keep-alive,
// Expect: 100-continue, HTTP/1.0, and a Unix socket.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <optional>
#include <regex>
#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

// The routes every curl test uses.
void add_routes(http::Server& s, std::thread::id loop_thread) {
  s.get("/plaintext", [](Request&) { return Response::bytes("Hello, World!", "text/plain"); });
  s.post("/echo",
         [](Request& req) { return Response::bytes(req.body(), "application/octet-stream"); });
  s.get("/only-get", [](Request&) { return Response::text("got\n"); });
  s.get("/users/:id",
        [](Request& req) { return Response::text("user " + std::string(req.param("id"))); });
  s.get("/static/*",
        [](Request& req) { return Response::text("static " + std::string(req.param("*"))); });
  s.get("/search", [](Request& req) {
    return Response::text("q=" + std::string(req.raw_query("q")) +
                          " n=" + std::string(req.raw_query("n")) +
                          " missing=" + std::string(req.raw_query("missing")));
  });
  s.get("/private", [](Request&) { return Response::text("secret\n"); });
  s.get("/coro", [loop_thread](Request& req) -> Task<Response> {
    co_await weft::sleep(std::chrono::milliseconds(20));
    const bool other_thread = co_await weft::blocking(
        [loop_thread] { return std::this_thread::get_id() != loop_thread; });
    const bool back_on_loop = std::this_thread::get_id() == loop_thread;
    co_return Response::text("coro " + std::string(req.path()) +
                             (other_thread ? " pool" : " NOT-ON-POOL") +
                             (back_on_loop ? " loop" : " NOT-ON-LOOP"));
  });
  s.before([](Request& req) -> std::optional<Response> {
    if (req.path() == "/private" && req.header("Authorization") != "Bearer letmein") {
      Response denied = Response::status(401);
      denied.header("WWW-Authenticate", "Bearer");
      return denied;
    }
    return std::nullopt;
  });
  s.after([](const Request&, Response& res) { res.header("X-Served-By", "weft-test"); });
}

// A server with the routes above on 127.0.0.1:0; run `client(port)` against it.
void with_server(const std::function<void(std::uint16_t)>& client,
                 http::ServerOptions options = {}) {
  Loop loop;
  {
    http::Server server(loop, options);
    add_routes(server, std::this_thread::get_id());
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    ASSERT_NE(port, 0);
    run_with_client(loop, server, [&] { client(port); });
  }
  weft::testing::expect_clean_close(loop);
}

// curl -i <args>: the final response (1xx skipped).
HttpResponse curl_response(const std::vector<std::string>& args, int* informational = nullptr) {
  std::vector<std::string> all = {"-i"};
  all.insert(all.end(), args.begin(), args.end());
  CurlResult r = run_curl(all);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string error;
  auto res = parse_curl_output(r.out, &error, informational);
  EXPECT_TRUE(res) << error;
  return res.value_or(HttpResponse{});
}

TEST(HttpCurl, PlaintextBodyAndHeaders) {
  with_server([](std::uint16_t port) {
    HttpResponse r = curl_response({base_url(port) + "/plaintext"});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "Hello, World!");
    EXPECT_EQ(r.header("Content-Length"), "13");
    EXPECT_EQ(r.header("Content-Type"), "text/plain");
    EXPECT_EQ(r.header_count("Date"), 1u);
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    static const std::regex imf(
        R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT)");
    EXPECT_TRUE(std::regex_match(r.header("Date").value_or(""), imf))
        << r.header("Date").value_or("");
    EXPECT_EQ(r.header("X-Served-By"), "weft-test");  // after-middleware
    EXPECT_FALSE(r.header("Transfer-Encoding"));
  });
}

TEST(HttpCurl, HeadHasNoBodyAndTheSameContentLength) {
  with_server([](std::uint16_t port) {
    HttpResponse get = curl_response({base_url(port) + "/plaintext"});
    HttpResponse head = curl_response({"--head", base_url(port) + "/plaintext"});
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("Content-Length"), get.header("Content-Length"));
    EXPECT_EQ(head.body, "");
    // The raw bytes: nothing follows the head of a HEAD response (the next response on
    // the connection starts right after it).
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    std::string head_req = get_request("/plaintext");
    head_req.replace(0, 3, "HEAD");
    ASSERT_TRUE(c.send(head_req + get_request("/users/7")));
    auto r1 = c.read_response(/*head_request=*/true);
    ASSERT_TRUE(r1) << c.error();
    EXPECT_EQ(r1->header("Content-Length"), "13");
    auto r2 = c.read_response();
    ASSERT_TRUE(r2) << c.error();
    EXPECT_EQ(r2->status, 200);
    EXPECT_EQ(r2->body, "user 7");
  });
}

TEST(HttpCurl, PostEchoesTheBody) {
  with_server([](std::uint16_t port) {
    HttpResponse r =
        curl_response({"--data-binary", "hello, weft\nsecond line", base_url(port) + "/echo"});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello, weft\nsecond line");
    EXPECT_EQ(r.header("Content-Type"), "application/octet-stream");
  });
}

TEST(HttpCurl, NotFoundAndMethodNotAllowed) {
  with_server([](std::uint16_t port) {
    HttpResponse nf = curl_response({base_url(port) + "/nope"});
    EXPECT_EQ(nf.status, 404);
    EXPECT_EQ(nf.body, "Not Found\n");
    EXPECT_EQ(nf.header("X-Served-By"), "weft-test");  // after-middleware sees errors too

    HttpResponse na = curl_response({"-X", "DELETE", base_url(port) + "/only-get"});
    EXPECT_EQ(na.status, 405);
    ASSERT_TRUE(na.header("Allow"));
    EXPECT_NE(na.header("Allow")->find("GET"), std::string::npos) << *na.header("Allow");
    EXPECT_NE(na.header("Allow")->find("HEAD"), std::string::npos) << *na.header("Allow");

    HttpResponse post = curl_response({"--data-binary", "x", base_url(port) + "/plaintext"});
    EXPECT_EQ(post.status, 405);
  });
}

TEST(HttpCurl, RouteParamsWildcardAndQuery) {
  with_server([](std::uint16_t port) {
    EXPECT_EQ(curl_response({base_url(port) + "/users/42"}).body, "user 42");
    EXPECT_EQ(curl_response({base_url(port) + "/users/42/extra"}).status, 404);
    EXPECT_EQ(curl_response({base_url(port) + "/static/css/site.css"}).body, "static css/site.css");
    EXPECT_EQ(curl_response({base_url(port) + "/static/"}).body, "static ");
    EXPECT_EQ(curl_response({base_url(port) + "/search?q=weft&n=3"}).body, "q=weft n=3 missing=");
    EXPECT_EQ(curl_response({base_url(port) + "/search?n=1&q=a%20b"}).body,
              "q=a%20b n=1 missing=");  // raw, not decoded
  });
}

TEST(HttpCurl, BeforeMiddlewareShortCircuitsAndAfterMiddlewareAddsAHeader) {
  with_server([](std::uint16_t port) {
    HttpResponse denied = curl_response({base_url(port) + "/private"});
    EXPECT_EQ(denied.status, 401);
    EXPECT_EQ(denied.header("WWW-Authenticate"), "Bearer");
    EXPECT_EQ(denied.header("X-Served-By"), "weft-test");
    EXPECT_EQ(denied.body.find("secret"), std::string::npos);

    HttpResponse ok =
        curl_response({"-H", "Authorization: Bearer letmein", base_url(port) + "/private"});
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "secret\n");
    EXPECT_EQ(ok.header("X-Served-By"), "weft-test");
  });
}

TEST(HttpCurl, CoroutineHandlerSleepsAndBlocks) {
  with_server([](std::uint16_t port) {
    const auto t0 = Clock::now();
    HttpResponse r = curl_response({base_url(port) + "/coro"});
    EXPECT_GE(Clock::now() - t0, 20ms);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "coro /coro pool loop");
    EXPECT_EQ(r.header("X-Served-By"), "weft-test");
    EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
  });
}

TEST(HttpCurl, KeepAliveReusesTheConnection) {
  with_server([](std::uint16_t port) {
    CurlResult r = run_curl({"-o", "/dev/null", "-o", "/dev/null", "--write-out",
                             "%{http_code} %{num_connects}\\n", base_url(port) + "/plaintext",
                             base_url(port) + "/users/1"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "200 1\n200 0\n");
  });
}

TEST(HttpCurl, ExpectContinue) {
  with_server([](std::uint16_t port) {
    const std::string body(4096, 'b');
    char path[] = "/tmp/weft-itest-body-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
    ::close(fd);
    // curl waits up to --expect100-timeout for the 100; a server that never sends it
    // shows up as a slow request and no "100 Continue" in the verbose log.
    const auto t0 = Clock::now();
    CurlResult r = run_curl({"-v", "-i", "-H", "Expect: 100-continue", "--expect100-timeout", "5",
                             "--data-binary", std::string("@") + path, base_url(port) + "/echo"});
    const auto elapsed = Clock::now() - t0;
    ::unlink(path);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    int informational = 0;
    auto res = parse_curl_output(r.out, nullptr, &informational);
    ASSERT_TRUE(res) << r.out.substr(0, 300);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, body);
    EXPECT_NE(r.err.find("HTTP/1.1 100 Continue"), std::string::npos) << r.err;
    EXPECT_LT(elapsed, 3s);

    // Raw: the 100 arrives before any body byte is sent.
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
               "Expect: 100-continue\r\n\r\n"));
    auto cont = c.read_response(false, 2000ms);
    ASSERT_TRUE(cont) << c.error();
    EXPECT_EQ(cont->status, 100);
    ASSERT_TRUE(c.send("hello"));
    auto fin = c.read_response();
    ASSERT_TRUE(fin) << c.error();
    EXPECT_EQ(fin->status, 200);
    EXPECT_EQ(fin->body, "hello");
  });
}

TEST(HttpCurl, Http10WithoutKeepAliveCloses) {
  with_server([](std::uint16_t port) {
    HttpResponse r = curl_response({"--http1.0", base_url(port) + "/plaintext"});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "Hello, World!");
    EXPECT_TRUE(r.connection_close());

    CurlResult two = run_curl({"--http1.0", "-o", "/dev/null", "-o", "/dev/null", "--write-out",
                               "%{num_connects}\\n", base_url(port) + "/plaintext",
                               base_url(port) + "/plaintext"});
    EXPECT_EQ(two.exit_code, 0) << two.err;
    EXPECT_EQ(two.out, "1\n1\n");

    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send("GET /plaintext HTTP/1.0\r\n\r\n"));
    auto raw = c.read_response();
    ASSERT_TRUE(raw) << c.error();
    EXPECT_EQ(raw->body, "Hello, World!");
    EXPECT_EQ(c.wait_closed(), CloseKind::eof);
  });
}

TEST(HttpCurl, Http10WithKeepAliveStaysOpen) {
  with_server([](std::uint16_t port) {
    HttpResponse r =
        curl_response({"--http1.0", "-H", "Connection: keep-alive", base_url(port) + "/plaintext"});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Connection"), "keep-alive");
    EXPECT_EQ(r.header("Content-Length"), "13");

    CurlResult two = run_curl({"--http1.0", "-H", "Connection: keep-alive", "-o", "/dev/null", "-o",
                               "/dev/null", "--write-out", "%{num_connects}\\n",
                               base_url(port) + "/plaintext", base_url(port) + "/users/2"});
    EXPECT_EQ(two.exit_code, 0) << two.err;
    EXPECT_EQ(two.out, "1\n0\n");
  });
}

// ---- 10. Unix socket -------------------------------------------------------------------------

TEST(HttpUnixSocket, CurlOverAUnixSocket) {
  static std::atomic<int> counter{0};
  const std::string path =
      "/tmp/weft-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
  Loop loop;
  {
    http::Server server(loop);
    add_routes(server, std::this_thread::get_id());
    ASSERT_FALSE(server.listen(0, path));
    EXPECT_EQ(server.port(), 0);
    EXPECT_EQ(::access(path.c_str(), F_OK), 0);
    run_with_client(loop, server, [&] {
      HttpResponse r = curl_response({"--unix-socket", path, "http://localhost/plaintext"});
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.body, "Hello, World!");
      HttpResponse p = curl_response(
          {"--unix-socket", path, "--data-binary", "over unix", "http://localhost/echo"});
      EXPECT_EQ(p.body, "over unix");
      CurlResult two = run_curl({"--unix-socket", path, "-o", "/dev/null", "-o", "/dev/null",
                                 "--write-out", "%{num_connects}\\n", "http://localhost/plaintext",
                                 "http://localhost/users/3"});
      EXPECT_EQ(two.out, "1\n0\n") << two.err;
    });
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "socket file left behind: " << path;
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace weft::itest
