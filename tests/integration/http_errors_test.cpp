// Handlers that throw (500, a log line, the connection stays usable) and clients that
// disconnect while a coroutine handler is still running (cancelled(), no crash).
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/http_error.hpp>
#include <weft/task.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

int count_lines_with(const std::string& text, std::string_view what) {
  int n = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (std::string_view(text).substr(start, end - start).find(what) != std::string_view::npos) ++n;
    start = end + 1;
  }
  return n;
}

TEST(HttpErrors, ThrowingHandlerGets500AndTheConnectionStaysUsable) {
  Loop loop;
  std::string log;
  {
    http::Server server(loop);
    server.get("/plaintext", [](Request&) { return Response::text("fine"); });
    server.get("/throw",
               [](Request&) -> Response { throw std::runtime_error("secret-detail-42 (sync)"); });
    server.get("/throw-async", [](Request&) -> Task<Response> {
      co_await weft::sleep(std::chrono::milliseconds(5));
      throw std::runtime_error("secret-detail-43 (async)");
    });
    server.get("/throw-int", [](Request&) -> Response { throw 7; });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    ::testing::internal::CaptureStderr();
    run_with_client(loop, server, [&] {
      RawClient c = RawClient::tcp(port);
      ASSERT_TRUE(c.ok());
      for (const char* path : {"/throw", "/throw-async", "/throw-int"}) {
        SCOPED_TRACE(path);
        ASSERT_TRUE(c.send(get_request(path)));
        auto r = c.read_response();
        ASSERT_TRUE(r) << c.error();
        EXPECT_EQ(r->status, 500);
        EXPECT_FALSE(r->connection_close());
        EXPECT_EQ(r->body.find("secret"), std::string::npos) << r->body;
        EXPECT_EQ(r->body.find("detail"), std::string::npos) << r->body;
        ASSERT_TRUE(c.send(get_request("/plaintext")));
        auto ok = c.read_response();
        ASSERT_TRUE(ok) << c.error();
        EXPECT_EQ(ok->status, 200);
        EXPECT_EQ(ok->body, "fine");
      }
    });
    log = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(server.stats().handler_errors, 3u);
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_EQ(count_lines_with(log, "weft.http"), 3) << log;
  EXPECT_EQ(count_lines_with(log, "GET /throw:"), 1) << log;
  EXPECT_EQ(count_lines_with(log, "secret-detail-42"), 1) << log;
  EXPECT_EQ(count_lines_with(log, "GET /throw-async:"), 1) << log;
  EXPECT_EQ(count_lines_with(log, "secret-detail-43"), 1) << log;
  EXPECT_EQ(count_lines_with(log, "GET /throw-int:"), 1) << log;
}

TEST(HttpErrors, ThrowingMiddlewareGets500) {
  Loop loop;
  std::string log;
  {
    http::Server server(loop);
    server.get("/a", [](Request&) { return Response::text("a"); });
    server.before([](Request& req) -> std::optional<Response> {
      if (req.raw_query("boom") == "before") throw std::runtime_error("before-boom");
      return std::nullopt;
    });
    server.after([](const Request& req, Response&) {
      if (req.raw_query("boom") == "after") throw std::runtime_error("after-boom");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    ::testing::internal::CaptureStderr();
    run_with_client(loop, server, [&] {
      RawClient c = RawClient::tcp(port);
      ASSERT_TRUE(c.ok());
      for (const char* path : {"/a?boom=before", "/a?boom=after", "/a"}) {
        ASSERT_TRUE(c.send(get_request(path)));
        auto r = c.read_response();
        ASSERT_TRUE(r) << path << ": " << c.error();
        EXPECT_EQ(r->status, std::string_view(path) == "/a" ? 200 : 500) << path;
        EXPECT_EQ(r->body.find("boom"), std::string::npos);
      }
    });
    log = ::testing::internal::GetCapturedStderr();
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_EQ(count_lines_with(log, "weft.http"), 2) << log;
}

struct CancelProbe {
  int started = 0;            // loop thread only
  int saw_cancelled = 0;      // loop thread only
  int saw_not_cancelled = 0;  // loop thread only
  std::atomic<int> finished{0};
};

TEST(HttpErrors, ClientDisconnectCancelsARunningCoroutineHandler) {
  CancelProbe probe;
  Loop loop;
  {
    http::Server server(loop);
    server.get("/slow", [&probe](Request& req) -> Task<Response> {
      ++probe.started;
      co_await weft::sleep(std::chrono::milliseconds(100));
      ++(req.cancelled() ? probe.saw_cancelled : probe.saw_not_cancelled);
      std::string path(req.path());  // the request is still valid after cancellation
      probe.finished.fetch_add(1);
      co_return Response::text("too late for " + path);
    });
    server.get("/plaintext", [](Request&) { return Response::text("ok"); });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      {  // one request in flight, connection reset
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(c.send(get_request("/slow")));
        std::this_thread::sleep_for(20ms);
        c.reset();
      }
      {  // several pipelined, connection reset
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(
            c.send(get_request("/slow") + get_request("/plaintext") + get_request("/slow")));
        std::this_thread::sleep_for(20ms);
        c.reset();
      }
      const auto deadline = Clock::now() + 3s;
      while (probe.finished.load() < 3 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
      // the server is fine afterwards
      RawClient d = RawClient::tcp(port);
      ASSERT_TRUE(d.ok());
      ASSERT_TRUE(d.send(get_request("/plaintext")));
      auto r = d.read_response();
      ASSERT_TRUE(r) << d.error();
      EXPECT_EQ(r->body, "ok");
    });
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_EQ(probe.started, 3);
  EXPECT_EQ(probe.saw_cancelled, 3);
  EXPECT_EQ(probe.saw_not_cancelled, 0);
}

// Destroying the server while a coroutine handler sleeps: the handler finishes later,
// sees cancelled(), and nothing touches freed memory (ASan). The handler captures nothing:
// a coroutine lambda's captures live in the closure the server owns, which the server's
// destruction frees (see http_regression_test.cpp, HandlerCapturesSurviveServerDestruction).
CancelProbe* g_destroy_probe = nullptr;

TEST(HttpErrors, DestroyingTheServerWithAHandlerInFlight) {
  CancelProbe probe;
  g_destroy_probe = &probe;
  Loop loop;
  {
    auto server = std::make_unique<http::Server>(loop);
    server->get("/slow", [](Request& req) -> Task<Response> {
      ++g_destroy_probe->started;
      co_await weft::sleep(std::chrono::milliseconds(50));
      ++(req.cancelled() ? g_destroy_probe->saw_cancelled : g_destroy_probe->saw_not_cancelled);
      co_return Response::text("late");
    });
    ASSERT_FALSE(server->listen(0, "127.0.0.1"));
    const std::uint16_t port = server->port();
    std::atomic<bool> sent{false};
    std::thread client([&] {
      RawClient c = RawClient::tcp(port);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(c.send(get_request("/slow")));
      sent = true;
      EXPECT_NE(c.wait_closed(3000ms), CloseKind::timeout);
    });
    Timer poll(loop);
    poll.start(
        [&] {
          if (sent.load() && probe.started == 1) {
            poll.stop();
            server.reset();
          }
        },
        std::chrono::milliseconds(1), std::chrono::milliseconds(1));
    loop.run();
    client.join();
    poll.close();
    loop.run();
  }
  weft::testing::expect_clean_close(loop);
  EXPECT_EQ(probe.saw_cancelled, 1);
  g_destroy_probe = nullptr;
}

// ---- HttpError and Server::on_error -------------------------------------------------------

void error_routes(http::Server& server, std::atomic<int>* shaped) {
  server.get("/teapot",
             [](Request&) -> Response { throw http::HttpError(418, "short and stout"); });
  server.get("/async-gone", [](Request&) -> Task<Response> {
    throw http::HttpError(410, "gone");
    co_return Response::text("never");
  });
  server.get("/boom", [](Request&) -> Response { throw std::runtime_error("internal detail"); });
  server.post("/only-post", [](Request&) { return Response::text("ok"); });
  server.on_error([shaped](const Request& req, const http::HttpError& e) {
    ++*shaped;
    return Response::json("{\"status\":" + std::to_string(e.status()) + ",\"error\":\"" + e.what() +
                              "\",\"path\":\"" + std::string(req.path()) + "\"}",
                          e.status())
        .header("X-Shaped", "1");
  });
}

TEST(HttpErrors, OnErrorShapesEveryErrorResponse) {
  http::ServerOptions o;
  o.limits.max_body = 10;
  o.headers_timeout = std::chrono::milliseconds(200);
  std::atomic<int> shaped{0};
  Loop loop;
  {
    http::Server server(loop, o);
    error_routes(server, &shaped);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      struct Case {
        std::string request;
        int status;
        std::string body_part;
      };
      const Case cases[] = {
          {get_request("/teapot"), 418, "\"error\":\"short and stout\",\"path\":\"/teapot\""},
          {get_request("/async-gone"), 410, "\"error\":\"gone\""},
          {get_request("/boom"), 500, "\"error\":\"Internal Server Error\""},
          {get_request("/missing"), 404, "\"path\":\"/missing\""},
          {get_request("/only-post"), 405, "\"error\":\"Method Not Allowed\""},
          {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "\"error\":\"invalid Host\""},
          {post_request("/only-post", std::string(100, 'x')), 413, "request body too large"},
          {"GET / HTTP/1.1\r\nHost: t\r\n", 408, "\"status\":408"},
      };
      for (const Case& c : cases) {
        RawClient client = RawClient::tcp(port);
        ASSERT_TRUE(client.send(c.request));
        auto r = client.read_response(false, 3000ms);
        ASSERT_TRUE(r) << c.request << client.error();
        EXPECT_EQ(r->status, c.status) << c.request;
        EXPECT_EQ(r->header("Content-Type").value_or(""), "application/json") << c.request;
        EXPECT_EQ(r->header("X-Shaped").value_or(""), "1") << c.request;
        EXPECT_NE(r->body.find(c.body_part), std::string::npos) << r->body;
        if (c.status == 405) {
          EXPECT_EQ(r->header("Allow").value_or(""), "POST");
        }
        EXPECT_EQ(r->body.find("internal detail"), std::string::npos);
      }
    });
  }
  EXPECT_EQ(shaped.load(), 8);
  weft::testing::expect_clean_close(loop);
}

TEST(HttpErrors, WithoutOnErrorAThrownHttpErrorIsPlainTextWithItsStatus) {
  Loop loop;
  {
    http::Server server(loop);
    server.get("/teapot", [](Request&) -> Response { throw http::HttpError(418, "short"); });
    server.get("/odd", [](Request&) -> Response { throw http::HttpError(200, "not an error"); });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      RawClient c = RawClient::tcp(port);
      ASSERT_TRUE(c.send(get_request("/teapot") + get_request("/odd")));
      auto r = c.read_response();
      ASSERT_TRUE(r) << c.error();
      EXPECT_EQ(r->status, 418);
      EXPECT_EQ(r->body, "short\n");
      r = c.read_response();
      ASSERT_TRUE(r) << c.error();
      EXPECT_EQ(r->status, 500) << "an HttpError must carry an error status";
    });
  }
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::itest
