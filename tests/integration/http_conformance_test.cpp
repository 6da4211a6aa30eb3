// RFC 9110/9112 edge conformance at the server: absolute-form targets, OPTIONS *,
// CONNECT, Expect, Host validation, and the lingering close that lets a client still
// sending its body read an early error response. Each failed on the tree before its fix.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cerrno>
#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

void with_server(const std::function<void(std::uint16_t)>& client,
                 http::ServerOptions options = {}) {
  Loop loop;
  {
    http::Server server(loop, options);
    server.get("/where", [](Request& req) {
      return Response::text(std::string(req.host()) + " " + std::string(req.path()) + " " +
                            std::string(req.query()));
    });
    server.post("/echo", [](Request& req) { return Response::text(req.body()); });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] { client(port); });
  }
  weft::testing::expect_clean_close(loop);
}

// One request on a fresh connection; the first response.
std::optional<HttpResponse> ask(std::uint16_t port, std::string_view request) {
  RawClient c = RawClient::tcp(port);
  if (!c.ok() || !c.send(request)) return std::nullopt;
  return c.read_response();
}

TEST(HttpConformance, AbsoluteFormTargetRoutesByPathAndItsAuthorityIsTheHost) {
  with_server([](std::uint16_t port) {
    auto r = ask(port, "GET http://api.example:8080/where?x=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "api.example:8080 /where x=1");
    r = ask(port, "GET http://api.example?x=2 HTTP/1.1\r\nHost: other\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);  // the path is "/", which has no route here
    r = ask(port, get_request("/where", "", "HTTP/1.1"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "test /where ");
  });
}

TEST(HttpConformance, OptionsAsteriskIsAnsweredForTheServer) {
  with_server([](std::uint16_t port) {
    auto r = ask(port, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204);
    EXPECT_EQ(r->header("Allow").value_or(""), "GET, HEAD, POST, OPTIONS");
  });
}

TEST(HttpConformance, ConnectIsRefusedAndTheConnectionClosed) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 501);
    EXPECT_TRUE(r->connection_close());
    c.shutdown_write();
    EXPECT_EQ(c.wait_closed(), CloseKind::eof);
  });
}

TEST(HttpConformance, ExpectationsOnHttp10AreIgnoredAndUnknownOnesGet417) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.send("POST /echo HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
    EXPECT_EQ(c.read_some(200ms), "") << "no 100 (Continue) for an HTTP/1.0 client";
    ASSERT_TRUE(c.send("hi"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hi");
    r = ask(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: fly\r\n\r\nhi");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 417);
  });
}

TEST(HttpConformance, InvalidHostGets400) {
  with_server([](std::uint16_t port) {
    for (std::string_view host : {"a b", "a,b", "x>; rel=\"next\"", "[::1", "h:port"}) {
      auto r = ask(port, "GET /where HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n");
      ASSERT_TRUE(r) << host;
      EXPECT_EQ(r->status, 400) << host;
    }
    auto ok = ask(port, "GET /where HTTP/1.1\r\nHost: [::1]:80\r\n\r\n");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
  });
}

// The client writes its whole body before reading, as urllib does. The body (64 MiB) is
// more than the kernel's buffers on both sides hold (tcp_rmem max 32 MiB here), so the
// client is still sending when the server answers. Without the lingering close the
// server's close with unread input resets the connection: the send fails, the 413 is lost.
TEST(HttpConformance, AClientStillSendingItsBodyReadsThe413) {
  http::ServerOptions o;
  o.limits.max_body = 1000;
  o.lingering_max_bytes = 128 * 1024 * 1024;
  with_server(
      [](std::uint16_t port) {
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.ok());
        const std::string body(64 * 1024 * 1024, 'x');
        ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n"));
        EXPECT_TRUE(c.send(body, 20000ms)) << "send failed (reset?): errno " << errno;
        auto r = c.read_response();
        ASSERT_TRUE(r) << c.error();
        EXPECT_EQ(r->status, 413);
        c.shutdown_write();
        EXPECT_EQ(c.wait_closed(), CloseKind::eof);
      },
      o);
}

TEST(HttpConformance, LingeringEndsAfterItsIdleTimeout) {
  http::ServerOptions o;
  o.lingering_timeout = std::chrono::milliseconds(100);
  with_server(
      [](std::uint16_t port) {
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"));
        auto r = c.read_response();
        ASSERT_TRUE(r) << c.error();
        EXPECT_EQ(r->status, 400);
        const auto t0 = Clock::now();
        EXPECT_NE(c.wait_closed(3000ms), CloseKind::timeout);  // no FIN from the client
        EXPECT_LT(Clock::now() - t0, 2000ms);
      },
      o);
}

}  // namespace
}  // namespace weft::itest
