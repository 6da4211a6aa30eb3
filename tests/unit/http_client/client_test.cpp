// HttpClient.*: fetch() against weft's own server and scripted raw servers: bodies in
// every framing, pooling and reuse, redirects, gzip/deflate, 100-continue, Unix sockets,
// the callback form.
#include <gtest/gtest.h>
#include <weft/http/client.hpp>
#include <weft/http/server.hpp>
#include <weft/async.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>
#include <zlib.h>

#include <map>

#include "support/loop_testing.hpp"
#include "unit/http_client/raw_server.hpp"

namespace weft::http::ctest {
namespace {

using namespace std::chrono_literals;

std::string gzip(const std::string& in, bool gzip_format = true) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, gzip_format ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string ok_response(std::string_view body, std::string_view extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra) + "\r\n" + std::string(body);
}

TEST(HttpClient, GetsFromWeftsServerAndReusesTheConnection) {
  Loop loop;
  {
    Server server(loop);
    server.get("/hello", [](Request&) { return Response::text("Hello, World!"); });
    server.post("/echo", [](Request& req) { return Response::text(std::string(req.body())); });
    server.get("/json", [](Request&) { return Response::json(R"({"n": 42})"); });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
    Client client(loop);
    run_until_complete(loop, [&]() -> Task<void> {
      for (int i = 0; i < 3; ++i) {
        ClientResponse res = co_await client.fetch(base + "/hello");
        EXPECT_EQ(res.status(), 200);
        std::string body = co_await res.text();
        EXPECT_EQ(body, "Hello, World!");
      }
      FetchOptions post;
      post.method = "POST";
      post.body = std::string(100000, 'x');
      ClientResponse echoed = co_await client.fetch(base + "/echo", post);
      std::string echo_body = co_await echoed.text();
      EXPECT_EQ(echo_body.size(), 100000u);
      FetchOptions streamed;  // a producer coroutine: sent chunked, piece by piece
      streamed.method = "POST";
      int pieces = 0;
      streamed.body_source = [&pieces]() -> Task<std::string> {
        if (pieces == 3) co_return std::string();
        co_await weft::sleep(5ms);
        co_return std::string(1000, static_cast<char>('a' + pieces++));
      };
      ClientResponse up = co_await client.fetch(base + "/echo", streamed);
      std::string up_body = co_await up.text();
      EXPECT_EQ(up_body, std::string(1000, 'a') + std::string(1000, 'b') + std::string(1000, 'c'));
      FetchOptions unbounded;  // the largest limit must not wrap around
      unbounded.max_response_size = ~std::uint64_t{0};
      ClientResponse big = co_await client.fetch(base + "/hello", unbounded);
      std::string big_body = co_await big.text();
      EXPECT_EQ(big_body, "Hello, World!");
#ifdef WEFT_HTTP_CLIENT_HAS_JSON
      ClientResponse js = co_await client.fetch(base + "/json");
      nlohmann::json doc = co_await js.json();
      EXPECT_EQ(doc["n"], 42);
      ClientResponse js2 = co_await client.fetch(base + "/json");
      std::map<std::string, int> as_map = co_await js2.json<std::map<std::string, int>>();
      EXPECT_EQ(as_map["n"], 42);
#endif
      ClientResponse missing = co_await client.fetch(base + "/nope");
      EXPECT_EQ(missing.status(), 404);  // an HTTP error status is not a failure
      co_await missing.text();
      server.close(1s, [] {});
    }());
    EXPECT_EQ(client.connections_opened(), 1u);
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, DefaultClientAndCallbackForm) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      while (!c.read_request().empty()) c.send(ok_response("cb"));
    });
    std::string got;
    default_client(loop).fetch(server.url(), {}, [&](FetchResult& r) {
      EXPECT_FALSE(r.error) << r.error_message;
      got = r.body;
    });
    loop.run();
    EXPECT_EQ(got, "cb");
    run_until_complete(loop, [&]() -> Task<void> {
      ClientResponse res = co_await fetch(server.url("/x"));
      std::string body = co_await res.text();
      EXPECT_EQ(body, "cb");
    }());
  }
  loop.run();                               // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);  // closes the default client's idle connection
}

TEST(HttpClient, ChunkedBodyWithTrailersStreamsInPieces) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      c.read_request();
      c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      std::this_thread::sleep_for(20ms);
      c.send("6\r\n world\r\n0\r\nX-Checksum: 1\r\n\r\n");
      c.read_request();
    });
    run_until_complete(loop, [&]() -> Task<void> {
      Client client(loop);
      ClientResponse res = co_await client.fetch(server.url());
      std::vector<std::string> pieces;
      for (;;) {
        std::string piece = co_await res.body_chunk();
        if (piece.empty()) break;
        pieces.push_back(piece);
      }
      EXPECT_GE(pieces.size(), 2u);
      std::string all;
      for (auto& p : pieces) all += p;
      EXPECT_EQ(all, "hello world");
      EXPECT_TRUE(res.body_done());
      EXPECT_EQ(client.idle_connections(), 1u);  // back in the pool
    }());
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, GzipAndDeflateAreDecoded) {
  Loop loop;
  const std::string text(50000, 'a');
  {
    RawServer server([&](RawConn& c, int) {
      std::string req;
      while (!(req = c.read_request()).empty()) {
        EXPECT_NE(req.find("Accept-Encoding: gzip"), std::string::npos);
        const bool deflate = req.find("GET /deflate") == 0;
        c.send(ok_response(gzip(text, !deflate), deflate ? "Content-Encoding: deflate\r\n"
                                                         : "Content-Encoding: gzip\r\n"));
      }
    });
    run_until_complete(loop, [&]() -> Task<void> {
      Client client(loop);
      ClientResponse a = co_await client.fetch(server.url("/gzip"));
      std::string ab = co_await a.text();
      EXPECT_EQ(ab, text);
      ClientResponse b = co_await client.fetch(server.url("/deflate"));
      std::string bb = co_await b.text();
      EXPECT_EQ(bb, text);
      FetchOptions raw;
      raw.decompress = false;
      raw.headers = {{"Accept-Encoding", "gzip"}};
      ClientResponse c = co_await client.fetch(server.url("/gzip"), raw);
      std::string cb = co_await c.text();
      EXPECT_EQ(cb, gzip(text));
    }());
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, FollowsRedirectsAndDropsAuthorizationAcrossOrigins) {
  Loop loop;
  {
    RawServer other([](RawConn& c, int) {
      c.read_request();
      c.send(ok_response("elsewhere", "Connection: close\r\n"));
    });
    RawServer server([&](RawConn& c, int) {
      std::string req;
      while (!(req = c.read_request()).empty()) {
        if (req.find("POST /a") == 0)
          c.send("HTTP/1.1 303 See Other\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n");
        else if (req.find("GET /b") == 0)
          c.send("HTTP/1.1 302 Found\r\nLocation: " + other.url("/c") +
                 "\r\nContent-Length: 3\r\n\r\nabc");
      }
    });
    run_until_complete(loop, [&]() -> Task<void> {
      Client client(loop);
      FetchOptions o;
      o.method = "POST";
      o.body = "data";
      o.headers = {{"Authorization", "Bearer secret"}};
      ClientResponse res = co_await client.fetch(server.url("/a"), o);
      std::string body = co_await res.text();
      EXPECT_EQ(body, "elsewhere");
      EXPECT_EQ(res.redirects(), 2);
      EXPECT_EQ(res.url(), other.url("/c"));
    }());
    EXPECT_NE(server.last_request().find("Authorization: Bearer secret"), std::string::npos);
    EXPECT_EQ(other.last_request().find("Authorization"), std::string::npos);
    EXPECT_EQ(other.last_request().find("GET /c"), 0u);
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, HundredContinueAndHeadAnd204) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      std::string req;
      while (!(req = c.read_request()).empty()) {
        if (req.find("HEAD") == 0)
          c.send("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
        else if (req.find("DELETE") == 0)
          c.send("HTTP/1.1 204 No Content\r\n\r\n");
        else
          c.send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
                 ok_response("after"));
      }
    });
    run_until_complete(loop, [&]() -> Task<void> {
      Client client(loop);
      ClientResponse a = co_await client.fetch(server.url());
      std::string ab = co_await a.text();
      EXPECT_EQ(ab, "after");
      FetchOptions head;
      head.method = "HEAD";
      ClientResponse b = co_await client.fetch(server.url(), head);
      EXPECT_TRUE(b.body_done());
      EXPECT_EQ(b.header("content-length"), "99");
      FetchOptions del;
      del.method = "DELETE";
      ClientResponse c = co_await client.fetch(server.url(), del);
      EXPECT_EQ(c.status(), 204);
      EXPECT_TRUE(c.body_done());
      EXPECT_EQ(client.connections_opened(), 1u);
    }());
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, ExpectContinueSendsTheBodyAfterTheInterimResponse) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
        if (n <= 0) return;
        head.append(buf, static_cast<std::size_t>(n));
      }
      EXPECT_NE(head.find("Expect: 100-continue"), std::string::npos);
      EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "");  // no body before the 100
      c.send("HTTP/1.1 100 Continue\r\n\r\n");
      std::string body;
      while (body.size() < 5) {
        const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
        if (n <= 0) return;
        body.append(buf, static_cast<std::size_t>(n));
      }
      c.send(ok_response("got " + body));
    });
    run_until_complete(loop, [&]() -> Task<void> {
      Client client(loop);
      FetchOptions o;
      o.method = "PUT";
      o.body = "12345";
      o.expect_continue = true;
      ClientResponse res = co_await client.fetch(server.url(), o);
      std::string body = co_await res.text();
      EXPECT_EQ(body, "got 12345");
    }());
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, ExpectContinueSendsTheBodyAfterOneSecondOfSilenceOrNotAtAll) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int i) {
      if (i == 0) {  // ignores the expectation: waits for the body
        c.read_request();
        c.send(ok_response("late body taken"));
      } else {  // refuses at once: the body must not come
        std::string head;
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
          if (n <= 0) return;
          head.append(buf, static_cast<std::size_t>(n));
        }
        c.send("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n");
        EXPECT_TRUE(c.peer_closed());  // nothing more, then the client closes
      }
    });
    run_until_complete(loop, [&]() -> Task<void> {
      Client client(loop);
      FetchOptions o;
      o.method = "PUT";
      o.body = "12345";
      o.expect_continue = true;
      const auto t0 = std::chrono::steady_clock::now();
      ClientResponse a = co_await client.fetch(server.url(), o);
      std::string ab = co_await a.text();
      EXPECT_EQ(ab, "late body taken");
      EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
      ClientResponse b = co_await client.fetch(server.url(), o);
      EXPECT_EQ(b.status(), 413);
      co_await b.text();
      EXPECT_EQ(client.idle_connections(), 0u);  // its framing was broken: not kept
    }());
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, UnixSocketOrigin) {
  Loop loop;
  const std::string path = "/tmp/weft-client-test-" + std::to_string(::getpid()) + ".sock";
  {
    RawServer server(
        [](RawConn& c, int) {
          std::string req = c.read_request();
          EXPECT_NE(req.find("Host: localhost"), std::string::npos);
          c.send(ok_response("over unix"));
        },
        path);
    run_until_complete(loop, [&]() -> Task<void> {
      Client client(loop);
      std::string enc;
      for (char ch : path) enc += ch == '/' ? std::string("%2F") : std::string(1, ch);
      ClientResponse res = co_await client.fetch("http+unix://" + enc + "/p?q=1");
      std::string body = co_await res.text();
      EXPECT_EQ(body, "over unix");
    }());
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, StaleKeepAliveConnectionIsRetriedOnceForIdempotentRequests) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      c.read_request();
      c.send(ok_response("one"));  // keep-alive promised, then closed while idle
    });
    run_until_complete(loop, [&]() -> Task<void> {
      Client client(loop);
      ClientResponse a = co_await client.fetch(server.url());
      std::string ab = co_await a.text();
      EXPECT_EQ(client.idle_connections(), 1u);
      co_await weft::sleep(50ms);  // the server has closed it by now
      ClientResponse b = co_await client.fetch(server.url());
      std::string bb = co_await b.text();
      EXPECT_EQ(bb, "one");
      EXPECT_EQ(client.connections_opened(), 2u);
    }());
    EXPECT_EQ(server.accepted(), 2);
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  Loop loop;
  {
    RawServer server([](RawConn& c, int) {
      while (!c.read_request().empty()) c.send(ok_response("x"));
    });
    ClientOptions co;
    co.idle_timeout = 50ms;
    Client client(loop, co);
    run_until_complete(loop, [&]() -> Task<void> {
      ClientResponse res = co_await client.fetch(server.url());
      co_await res.text();
      EXPECT_EQ(client.idle_connections(), 1u);
      co_await weft::sleep(130ms);
      EXPECT_EQ(client.idle_connections(), 0u);
    }());
  }
  loop.run();
  weft::testing::expect_clean_close(loop);
}

TEST(HttpClient, PoolBoundsConnectionsPerOrigin) {
  Loop loop;
  {
    Server server(loop);
    server.get("/slow", [](Request&) -> Task<Response> {
      co_await weft::sleep(20ms);
      co_return Response::text("s");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/slow";
    ClientOptions co;
    co.max_connections_per_origin = 2;
    Client client(loop, co);
    int done = 0;
    for (int i = 0; i < 6; ++i) {
      client.fetch(url, {}, [&](FetchResult& r) {
        EXPECT_FALSE(r.error) << r.error_message;
        EXPECT_EQ(r.body, "s");
        EXPECT_LE(client.connections(), 2u);
        if (++done == 6) server.close(1s, [] {});
      });
    }
    loop.run();
    EXPECT_EQ(done, 6);
    EXPECT_EQ(client.connections_opened(), 2u);
  }
  loop.run();  // what the closed connections still have to do
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::http::ctest
