// The server as a raw socket sees it: pipelining (with coroutine handlers finishing out
// of order), requests split at every byte, chunked request bodies, and each class of
// malformed request getting its status and a closed connection.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

void add_routes(http::Server& s) {
  s.get("/plaintext", [](Request&) { return Response::bytes("Hello, World!", "text/plain"); });
  s.get("/n/:i", [](Request& req) { return Response::text("n" + std::string(req.param("i"))); });
  s.post("/echo",
         [](Request& req) { return Response::bytes(req.body(), "application/octet-stream"); });
  // Sleeps ?ms=N, then answers with its index: responses must still come in order.
  s.get("/sleep/:i", [](Request& req) -> Task<Response> {
    int ms = std::stoi(std::string(req.raw_query("ms")));
    co_await weft::sleep(std::chrono::milliseconds(ms));
    co_return Response::text("s" + std::string(req.param("i")));
  });
  s.post("/echo-async", [](Request& req) -> Task<Response> {
    co_await weft::sleep(std::chrono::milliseconds(1));
    co_return Response::bytes(req.body(), "application/octet-stream");
  });
}

void with_server(const std::function<void(std::uint16_t)>& client,
                 http::ServerOptions options = {}) {
  Loop loop;
  {
    http::Server server(loop, options);
    add_routes(server);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] { client(port); });
  }
  weft::testing::expect_clean_close(loop);
}

TEST(HttpRaw, TenPipelinedRequestsInOneWrite) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    std::string batch;
    for (int i = 0; i < 10; ++i) {
      batch += i % 3 == 2 ? post_request("/echo", "e" + std::to_string(i))
                          : get_request("/n/" + std::to_string(i));
    }
    ASSERT_TRUE(c.send(batch));
    for (int i = 0; i < 10; ++i) {
      auto r = c.read_response();
      ASSERT_TRUE(r) << "response " << i << ": " << c.error();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, (i % 3 == 2 ? "e" : "n") + std::to_string(i));
      EXPECT_FALSE(r->connection_close());
    }
    EXPECT_EQ(c.read_some(50ms), "");
  });
}

TEST(HttpRaw, PipelinedCoroutinesFinishingOutOfOrderAnswerInOrder) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    const int sleeps[10] = {30, 10, 20, 0, 25, 5, 15, 0, 10, 1};
    std::string batch;
    for (int i = 0; i < 10; ++i) {
      // mixed with sync handlers: those answer at once but must wait their turn
      batch +=
          i % 4 == 3
              ? get_request("/n/" + std::to_string(i))
              : get_request("/sleep/" + std::to_string(i) + "?ms=" + std::to_string(sleeps[i]));
    }
    ASSERT_TRUE(c.send(batch));
    for (int i = 0; i < 10; ++i) {
      auto r = c.read_response();
      ASSERT_TRUE(r) << "response " << i << ": " << c.error();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, (i % 4 == 3 ? "n" : "s") + std::to_string(i));
    }
  });
}

TEST(HttpRaw, ManyPipelinedCoroutinesBeyondMaxPipelined) {
  http::ServerOptions options;
  options.max_pipelined = 4;
  with_server(
      [](std::uint16_t port) {
        RawClient c = RawClient::tcp(port);
        ASSERT_TRUE(c.ok());
        std::string batch;
        for (int i = 0; i < 50; ++i) {
          batch += get_request("/sleep/" + std::to_string(i) + "?ms=" + std::to_string(i % 3));
        }
        ASSERT_TRUE(c.send(batch));
        for (int i = 0; i < 50; ++i) {
          auto r = c.read_response();
          ASSERT_TRUE(r) << "response " << i << ": " << c.error();
          EXPECT_EQ(r->body, "s" + std::to_string(i));
        }
      },
      options);
}

TEST(HttpRaw, RequestsSplitAtEveryByte) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    const std::string reqs =
        get_request("/n/1", "X-Long-Header: " + std::string(100, 'x') + "\r\n") +
        post_request("/echo", "split body") +
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nTrailer-A: b\r\n\r\n" +
        post_request("/echo-async", "async body") + get_request("/sleep/5?ms=1");
    ASSERT_TRUE(c.send_bytewise(reqs));
    const char* want[] = {"n1", "split body", "abcdefg", "async body", "s5"};
    for (const char* w : want) {
      auto r = c.read_response();
      ASSERT_TRUE(r) << w << ": " << c.error();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, w);
    }
  });
}

TEST(HttpRaw, ChunkedRequestBody) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    std::string big(100000, 'z');
    char size[16];
    std::snprintf(size, sizeof size, "%zX", big.size());
    ASSERT_TRUE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n1\r\n \r\n" +
               std::string(size) + "\r\n" + big + "\r\n0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello " + big);
    // the connection stays usable
    ASSERT_TRUE(
        c.send("POST /echo-async HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "2\r\nok\r\n0\r\n\r\n"));
    auto r2 = c.read_response();
    ASSERT_TRUE(r2) << c.error();
    EXPECT_EQ(r2->body, "ok");
  });
}

// ---- malformed requests ----------------------------------------------------------------------

struct Malformed {
  const char* name;
  std::string request;
  int status;
};

bool human_readable(const std::string& body) {
  if (body.size() < 5) return false;
  bool letters = false;
  for (unsigned char ch : body) {
    if (!std::isprint(ch) && ch != '\n' && ch != '\t') return false;
    letters = letters || std::isalpha(ch);
  }
  return letters;
}

std::vector<Malformed> malformed_cases() {
  std::string many_headers = "GET / HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 101; ++i) many_headers += "X-H" + std::to_string(i) + ": v\r\n";
  many_headers += "\r\n";
  return {
      {"content_length_and_chunked",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       400},
      {"bare_lf_in_chunked",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
       400},
      {"obs_fold", "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\r\n  folded\r\n\r\n", 400},
      {"missing_host", "GET /plaintext HTTP/1.1\r\n\r\n", 400},
      {"body_too_large",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n" + std::string(100, 'x'),
       413},
      {"chunked_body_too_large",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 413},
      {"request_line_too_long", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n",
       414},
      {"too_many_headers", many_headers, 431},
      {"header_block_too_large",
       "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(17000, 'b') + "\r\n\r\n", 431},
      {"http_2_0", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
      {"te_gzip_chunked",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"te_gzip_alone", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"te_on_http10", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"garbage", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello\r\n\r\n", 26),
       400},
  };
}

// Each malformed class alone on a connection: its status, Connection: close, a readable
// body, then the connection closes. The client half-closes after its request here; the
// same case with the client's side left open is http_regression_test.cpp's
// MalformedRequestIsAnsweredWithoutFurtherInput.
TEST(HttpRaw, MalformedRequestsFollowedByHalfCloseGetTheirStatus) {
  with_server([](std::uint16_t port) {
    for (const Malformed& m : malformed_cases()) {
      SCOPED_TRACE(m.name);
      RawClient c = RawClient::tcp(port);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(c.send(m.request));
      c.shutdown_write();
      auto r = c.read_response(false, 2000ms);
      ASSERT_TRUE(r) << c.error();
      EXPECT_EQ(r->status, m.status);
      EXPECT_TRUE(r->connection_close());
      EXPECT_EQ(r->header("Content-Length"), std::to_string(r->body.size()));
      EXPECT_TRUE(human_readable(r->body)) << "body: " << r->body;
      EXPECT_NE(c.wait_closed(2000ms), CloseKind::timeout);
    }
  });
}

// A valid request first, then a malformed one on the same connection: the valid one is
// answered, then the error, then the connection closes.
TEST(HttpRaw, MalformedAfterAValidPipelinedRequest) {
  with_server([](std::uint16_t port) {
    RawClient c = RawClient::tcp(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send(get_request("/sleep/1?ms=10") + "GET / HTTP/2.0\r\nHost: t\r\n\r\n"));
    auto r1 = c.read_response();
    ASSERT_TRUE(r1) << c.error();
    EXPECT_EQ(r1->body, "s1");
    auto r2 = c.read_response();
    ASSERT_TRUE(r2) << c.error();
    EXPECT_EQ(r2->status, 505);
    EXPECT_NE(c.wait_closed(), CloseKind::timeout);
  });
}

}  // namespace
}  // namespace weft::itest
