// Middleware (Server::use): order, prefixes, unmatched requests, errors through the chain,
// request id / start time / locals, the parser's errors through the after-forms.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/async.hpp>
#include <weft/http/http_error.hpp>
#include <weft/http/server.hpp>
#include <weft/task.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace weft::itest {
namespace {

using http::Next;
using http::Request;
using http::Response;

// Runs `client` against a server set up by `setup`, then checks the loop closes clean.
void serve(const std::function<void(http::Server&)>& setup,
           const std::function<void(std::uint16_t)>& client, http::ServerOptions options = {}) {
  Loop loop;
  {
    http::Server server(loop, options);
    setup(server);
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] { client(port); });
  }
  weft::testing::expect_clean_close(loop);
}

std::optional<HttpResponse> fetch(std::uint16_t port, const std::string& request) {
  RawClient c = RawClient::tcp(port);
  if (!c.ok() || !c.send(request)) return std::nullopt;
  return c.read_response();
}

// Each layer appends its name to X-Trace on the way out; the order shows the onion.
void add_tracing_layers(http::Server& s) {
  s.use([](Request& req, Next next) -> Task<Response> {
    req.locals<std::vector<std::string>>().push_back("outer");
    Response res = co_await next();
    res.header("X-Trace", "outer");
    co_return res;
  });
  s.use([](Request& req) -> std::optional<Response> {
    req.locals<std::vector<std::string>>().push_back("before");
    if (req.path() == "/early") return Response::text("early");
    return std::nullopt;
  });
  s.use([](const Request& req, Response& res) {
    std::string seen;
    for (const std::string& name : req.locals<std::vector<std::string>>()) {
      seen += name + ",";
    }
    res.header("X-Seen", seen);
    res.header("X-Trace", "after");
  });
}

TEST(HttpMiddleware, LayersWrapRoutesAndUnmatchedRequestsInOrder) {
  serve(
      [](http::Server& s) {
        add_tracing_layers(s);
        s.get("/sync", [](Request& req) {
          req.locals<std::vector<std::string>>().push_back("sync");
          return Response::text("sync");
        });
        s.get("/async", [](Request& req) -> Task<Response> {
          co_await weft::sleep(std::chrono::milliseconds(2));
          req.locals<std::vector<std::string>>().push_back("async");
          co_return Response::text("async");
        });
        s.post("/post-only", [](Request&) { return Response::text("p"); });
      },
      [](std::uint16_t port) {
        struct Case {
          std::string path;
          int status;
          std::string seen;
        };
        for (const Case& c :
             {Case{"/sync", 200, "outer,before,sync,"}, Case{"/async", 200, "outer,before,async,"},
              Case{"/nowhere", 404, "outer,before,"}, Case{"/post-only", 405, "outer,before,"}}) {
          SCOPED_TRACE(c.path);
          auto r = fetch(port, get_request(c.path));
          ASSERT_TRUE(r);
          EXPECT_EQ(r->status, c.status);
          EXPECT_EQ(r->header("X-Seen").value_or(""), c.seen);
          ASSERT_EQ(r->header_count("X-Trace"), 2u);
          // after (inner) added its header first, outer last
          std::vector<std::string> trace;
          for (const auto& [n, v] : r->headers) {
            if (n == "X-Trace") trace.push_back(v);
          }
          EXPECT_EQ(trace, (std::vector<std::string>{"after", "outer"}));
          if (c.status == 405) {
            EXPECT_EQ(r->header("Allow").value_or(""), "POST");
          }
        }
        // A layer that answers ends the way down: the layers added after it do not run.
        auto r = fetch(port, get_request("/early"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "early");
        EXPECT_EQ(r->header_count("X-Seen"), 0u);
        EXPECT_EQ(r->header("X-Trace").value_or(""), "outer");
      });
}

TEST(HttpMiddleware, PrefixScopesALayerToAPathAndBelow) {
  serve(
      [](http::Server& s) {
        s.use("/api", [](const Request&, Response& res) { res.header("X-Api", "1"); });
        s.use("/api/", [](Request& req, Next next) -> Task<Response> {
          Response res = co_await next();
          res.header("X-Api-Around", std::string(req.path()));
          co_return res;
        });
        s.get("/*", [](Request&) { return Response::text("any"); });
      },
      [](std::uint16_t port) {
        for (const char* path : {"/api", "/api/x/y"}) {
          auto r = fetch(port, get_request(path));
          ASSERT_TRUE(r);
          EXPECT_EQ(r->header("X-Api").value_or(""), "1") << path;
          EXPECT_EQ(r->header("X-Api-Around").value_or(""), path);
        }
        for (const char* path : {"/apix", "/", "/other/api"}) {
          auto r = fetch(port, get_request(path));
          ASSERT_TRUE(r);
          EXPECT_EQ(r->status, 200);
          EXPECT_EQ(r->header_count("X-Api"), 0u) << path;
          EXPECT_EQ(r->header_count("X-Api-Around"), 0u) << path;
        }
      });
}

TEST(HttpMiddleware, ErrorsBecomeResponsesWhereTheyAreThrown) {
  std::string log;
  ::testing::internal::CaptureStderr();
  serve(
      [](http::Server& s) {
        s.on_error([](const Request&, const http::HttpError& e) {
          return Response::json("{\"error\":" + std::to_string(e.status()) + "}", e.status());
        });
        s.use([](Request&, Next next) -> Task<Response> {
          Response res = co_await next();  // never throws: errors below are responses
          res.header("X-Outer-Saw", std::to_string(res.status_code()));
          co_return res;
        });
        s.use([](Request& req, Next next) -> Task<Response> {
          if (req.path() == "/deny") throw http::HttpError(403, "no");
          co_return co_await next();
        });
        s.get("/boom", [](Request&) -> Response { throw std::runtime_error("kaboom"); });
        s.get("/teapot", [](Request&) -> Task<Response> {
          throw http::HttpError(418, "tea");
          co_return Response::text("never");
        });
      },
      [](std::uint16_t port) {
        for (auto [path, status] : {std::pair{"/deny", 403}, std::pair{"/boom", 500},
                                    std::pair{"/teapot", 418}, std::pair{"/none", 404}}) {
          auto r = fetch(port, get_request(path));
          ASSERT_TRUE(r);
          EXPECT_EQ(r->status, status) << path;
          EXPECT_EQ(r->header("X-Outer-Saw").value_or(""), std::to_string(status)) << path;
          EXPECT_EQ(r->header("Content-Type").value_or(""), "application/json") << path;
          EXPECT_EQ(r->body, "{\"error\":" + std::to_string(status) + "}");
        }
      });
  log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("GET /boom: handler threw: kaboom"), std::string::npos) << log;
}

TEST(HttpMiddleware, RequestIdStartTimeAndLocals) {
  serve(
      [](http::Server& s) {
        s.use([](Request& req) -> std::optional<Response> {
          req.locals<std::string>() = "user-7";
          return std::nullopt;
        });
        s.get("/who", [](Request& req) {
          const auto age = req.loop().now() - req.start_time();
          const bool sane = req.start_time() != TimePoint{} && age >= Duration::zero() &&
                            age < std::chrono::seconds(5);
          const std::string id(req.id());
          return Response::text(req.locals<std::string>() + " " + id + " " +
                                (sane ? "sane" : "insane") + (req.id() == id ? " stable" : ""));
        });
        // A quick path that declines: the locals travel with the request to the coroutine.
        http::Handler h([](Request& req) -> Task<Response> {
          co_await weft::sleep(std::chrono::milliseconds(1));
          co_return Response::text(req.locals<std::string>() + " " + std::string(req.id()));
        });
        h.quick = [](Request&) -> std::optional<Response> { return std::nullopt; };
        s.get("/later", std::move(h));
      },
      [](std::uint16_t port) {
        auto r = fetch(port, get_request("/who", "X-Request-Id: abc-123\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "user-7 abc-123 sane stable");
        r = fetch(port, get_request("/who", "X-Request-Id: bad id!\r\n"));
        ASSERT_TRUE(r);
        ASSERT_EQ(r->body.size(), std::string("user-7 ").size() + 16 + 12) << r->body;
        const std::string generated = r->body.substr(7, 16);
        EXPECT_EQ(generated.find_first_not_of("0123456789abcdef"), std::string::npos);
        auto r2 = fetch(port, get_request("/who"));
        ASSERT_TRUE(r2);
        EXPECT_NE(r2->body.substr(7, 16), generated);  // 64 random bits each
        r = fetch(port, get_request("/later", "X-Request-Id: q1\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "user-7 q1");
      });
}

TEST(HttpMiddleware, ParserErrorsPassTheAfterFormsAndAfter) {
  http::ServerOptions o;
  o.limits.max_header_block = 256;
  serve(
      [](http::Server& s) {
        s.use([](const Request&, Response& res) { res.header("X-Layer", "1"); });
        s.use([](Request&, Next) -> Task<Response> {
          ADD_FAILURE() << "a full-form layer ran for a parser error";
          co_return Response(500);
        });
        s.after([](const Request&, Response& res) { res.header("X-After", "1"); });
      },
      [](std::uint16_t port) {
        for (auto [request, status] :
             {std::pair{std::string("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400},
              std::pair{get_request("/", "X-Big: " + std::string(400, 'x') + "\r\n"), 431},
              std::pair{"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414}}) {
          auto r = fetch(port, request);
          ASSERT_TRUE(r);
          EXPECT_EQ(r->status, status);
          EXPECT_EQ(r->header("X-Layer").value_or(""), "1") << status;
          EXPECT_EQ(r->header("X-After").value_or(""), "1") << status;
        }
      },
      o);
}

// before() runs for unmatched requests now; after() is outside every layer, so it sees
// what an earlier-added before() answered.
TEST(HttpMiddleware, BeforeAndAfterAreThinForms) {
  serve(
      [](http::Server& s) {
        s.before([](Request& req) -> std::optional<Response> {
          if (req.path().starts_with("/guarded")) return Response::status(401);
          return std::nullopt;
        });
        s.after([](const Request&, Response& res) { res.header("X-Served-By", "t"); });
        s.get("/ok", [](Request&) { return Response::text("ok"); });
      },
      [](std::uint16_t port) {
        for (auto [path, status] :
             {std::pair{"/guarded/none", 401}, std::pair{"/ok", 200}, std::pair{"/none", 404}}) {
          auto r = fetch(port, get_request(path));
          ASSERT_TRUE(r);
          EXPECT_EQ(r->status, status) << path;
          EXPECT_EQ(r->header("X-Served-By").value_or(""), "t") << path;
        }
      });
}

TEST(HttpMiddleware, AServerDestroyedMidRequestLeavesTheChainSafe) {
  Loop loop;
  auto finished = std::make_shared<bool>(false);
  {
    http::Server server(loop);
    Timer t(loop);
    server.use([finished](Request&, Next next) -> Task<Response> {
      Response res = co_await next();
      *finished = true;  // the layer and its captures are still alive here
      co_return res;
    });
    // The server goes while the handler sleeps: 10 ms after the handler began (a fixed
    // delay from the start raced the client's connection on a loaded machine).
    server.get("/slow", [&](Request&) -> Task<Response> {
      t.start([&] { server.close(std::chrono::milliseconds(0)); }, std::chrono::milliseconds(10));
      co_await weft::sleep(std::chrono::milliseconds(30));
      co_return Response::text("late");
    });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    std::thread client([port] {
      RawClient c = RawClient::tcp(port);
      ASSERT_TRUE(c.send(get_request("/slow")));
      (void)c.wait_closed(2000ms);
    });
    loop.run();
    client.join();
  }
  loop.run();
  EXPECT_TRUE(*finished);
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::itest
