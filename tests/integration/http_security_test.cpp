// Regression tests for the HTTP-layer security findings: field injection through
// Response::header(), bodies cut short by the client, 100-continue before a 413, and a
// connection limit shared by several servers. Each failed on the tree before its fix.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/http/server.hpp>
#include <weft/task.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

void with_server(const std::function<void(http::Server&)>& routes,
                 const std::function<void(std::uint16_t)>& client,
                 http::ServerOptions options = {}) {
  Loop loop;
  {
    http::Server server(loop, options);
    routes(server);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] { client(port); });
  }
  weft::testing::expect_clean_close(loop);
}

// ---- field validation (RFC 9110 §5.5) ------------------------------------------------------

TEST(HttpFieldValidation, ValuesWithControlsAndNamesThatAreNotTokensThrow) {
  for (std::string_view bad : {std::string_view("x\r\nSet-Cookie: a=1"), std::string_view("a\nb"),
                               std::string_view("a\rb"), std::string_view("a\0b", 3),
                               std::string_view("a\x7f"), std::string_view("\x01")}) {
    Response r(200);
    EXPECT_THROW(r.header("Location", bad), std::invalid_argument) << bad;
    EXPECT_TRUE(r.headers().empty());
  }
  for (std::string_view name : {"", "Bad Name", "a:b", "x\r\ny", "caf\xc3\xa9"}) {
    EXPECT_THROW(Response(200).header(name, "v"), std::invalid_argument) << name;
  }
  Response ok(200);
  ok.header("X-Tab", "a\tb").header("X-Obs", "caf\xc3\xa9").header("X-Empty", "");
  EXPECT_EQ(ok.headers().size(), 3u);
}

TEST(HttpFieldValidation, ChainsOnATemporaryCompileAndMove) {
  Response r = Response(204).header("A", "1").header("B", "2");
  EXPECT_EQ(r.status_code(), 204);
  EXPECT_EQ(r.header_value("b"), "2");
}

TEST(HttpFieldValidation, AHandlerWritingCrLfGets500AndTheConnectionStaysInSync) {
  with_server(
      [](http::Server& s) {
        s.get("/split", [](Request& req) {
          return Response::text("x").header("Location",
                                            "/a\r\nSet-Cookie: pwned=1" + std::string(req.query()));
        });
        s.get("/async", [](Request&) -> Task<Response> {
          co_return Response(201).header("Location", "/x\r\n\r\nHTTP/1.1 200 OK");
        });
        s.get("/ok", [](Request&) { return Response::text("ok"); });
      },
      [](std::uint16_t port) {
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(c.send(get_request("/split") + get_request("/async") + get_request("/ok")));
        for (int status : {500, 500, 200}) {
          auto r = c.read_response();
          ASSERT_TRUE(r) << c.error();
          EXPECT_EQ(r->status, status);
          EXPECT_FALSE(r->header("Set-Cookie"));
          EXPECT_FALSE(r->header("Location"));
        }
        EXPECT_EQ(c.read_some(100ms), "") << "exactly three responses";
      });
}

// ---- a body the client never finishes ------------------------------------------------------

void slow_routes(http::Server& s, std::atomic<int>* body_failures) {
  s.post("/async", [](Request& req) -> Task<Response> { co_return Response::text(req.body()); });
  http::RouteOptions streamed;
  streamed.stream_body = true;
  s.route(
      "POST", "/stream",
      [body_failures](Request& req) -> Task<Response> {
        try {
          while (auto piece = co_await req.read_body()) (void)piece;
        } catch (const std::system_error&) {
          ++*body_failures;
          throw;
        }
        co_return Response::text("read");
      },
      streamed);
}

TEST(HttpBodyCutShort, EndOfInputInsideABodyClosesAtOnce) {
  std::atomic<int> failures{0};
  const char* requests[] = {
      "POST /async HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nx",
      "POST /async HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
      "POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nx",
      "POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n"};
  with_server([&](http::Server& s) { slow_routes(s, &failures); },
              [&](std::uint16_t port) {
                for (const char* request : requests) {
                  RawClient c = RawClient::tcp(port);
                  ASSERT_TRUE(c.ok());
                  ASSERT_TRUE(c.send(request));
                  std::this_thread::sleep_for(20ms);  // the head is in before the end
                  c.shutdown_write();
                  // The request timeout is 300 s: only the end of input can close it now.
                  EXPECT_EQ(c.wait_closed(3000ms), CloseKind::eof) << request;
                  EXPECT_EQ(c.buffered(), "") << "an unfinished request gets no answer";
                }
              });
  EXPECT_EQ(failures.load(), 2) << "both streaming handlers saw their body fail";
}

TEST(HttpBodyCutShort, AbandonedBodiesDoNotHoldTheConnectionLimit) {
  http::ServerOptions o;
  o.max_connections = 2;
  with_server(
      [](http::Server& s) { slow_routes(s, nullptr); },
      [](std::uint16_t port) {
        for (int i = 0; i < 6; ++i) {  // three times the limit, one after another
          RawClient c = RawClient::tcp(port);
          ASSERT_TRUE(c.ok());
          ASSERT_TRUE(c.send("POST /async HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nx"));
          std::this_thread::sleep_for(20ms);
          c.close();
        }
        std::this_thread::sleep_for(200ms);
        RawClient late = RawClient::tcp(port);
        ASSERT_TRUE(late.ok());
        ASSERT_TRUE(late.send(post_request("/async", "hello")));
        auto r = late.read_response();
        ASSERT_TRUE(r) << late.error();
        EXPECT_EQ(r->body, "hello");
      },
      o);
}

TEST(HttpBodyCutShort, CompleteRequestsBeforeTheEndAreStillAnswered) {
  with_server(
      [](http::Server& s) { slow_routes(s, nullptr); },
      [](std::uint16_t port) {
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.ok());
        ASSERT_TRUE(c.send(post_request("/async", "one") +
                           "POST /async HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nt"));
        c.shutdown_write();
        auto r = c.read_response();
        ASSERT_TRUE(r) << c.error();
        EXPECT_EQ(r->body, "one");
        EXPECT_EQ(c.wait_closed(3000ms), CloseKind::eof);
      });
}

// ---- Expect: 100-continue ------------------------------------------------------------------

TEST(HttpExpectContinue, ABodyOverTheLimitGetsOnly413) {
  http::ServerOptions o;
  o.limits.max_body = 1000;
  with_server([](http::Server& s) { slow_routes(s, nullptr); },
              [](std::uint16_t port) {
                RawClient c = RawClient::tcp(port);
                ASSERT_TRUE(c.ok());
                ASSERT_TRUE(
                    c.send("POST /async HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
                           "Expect: 100-continue\r\n\r\n"));
                auto r = c.read_response();
                ASSERT_TRUE(r) << c.error();
                EXPECT_EQ(r->status, 413) << "no 100 (Continue) before the final status";
              },
              o);
}

// ---- a connection limit shared by several servers ------------------------------------------

TEST(HttpConnectionLimit, SharedLimitHoldsOverServers) {
  Loop loop;
  {
    http::ServerOptions o;
    o.connection_limit = std::make_shared<http::ConnectionLimit>(2);
    http::Server a(loop, o), b(loop, o);
    for (http::Server* s : {&a, &b}) s->get("/", [](Request&) { return Response::text("hi"); });
    ASSERT_FALSE(a.listen(0, "127.0.0.1"));
    ASSERT_FALSE(b.listen(0, "127.0.0.1"));
    const std::uint16_t pa = a.port(), pb = b.port();
    run_with_client(loop, a, [&] {
      RawClient c1 = RawClient::tcp(pa), c2 = RawClient::tcp(pb);
      for (RawClient* c : {&c1, &c2}) {
        ASSERT_TRUE(c->send(get_request("/")));
        ASSERT_TRUE(c->read_response()) << c->error();
      }
      RawClient over = RawClient::tcp(pb);  // a third over both servers: refused
      ASSERT_TRUE(over.ok());
      EXPECT_NE(over.wait_closed(2000ms), CloseKind::timeout);
      c1.close();
      std::this_thread::sleep_for(100ms);
      RawClient again = RawClient::tcp(pb);  // room again
      ASSERT_TRUE(again.send(get_request("/")));
      EXPECT_TRUE(again.read_response()) << again.error();
      loop.post([&] { b.close(std::chrono::seconds(1)); });
    });
    EXPECT_EQ(o.connection_limit->open(), 0u);
  }
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::itest
