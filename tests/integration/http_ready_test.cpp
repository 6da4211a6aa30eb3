// The ready middleware (cors, access_log, rate_limit, body_limit), cookies and forms.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/http/access_log.hpp>
#include <weft/http/cors.hpp>
#include <weft/http/rate_limit.hpp>
#include <weft/http/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

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

std::string options_request(std::string_view path, std::string_view origin,
                            std::string_view extra = {}) {
  return "OPTIONS " + std::string(path) + " HTTP/1.1\r\nHost: t\r\nOrigin: " + std::string(origin) +
         "\r\nAccess-Control-Request-Method: PUT\r\n" + std::string(extra) + "\r\n";
}

// ---- cors ----------------------------------------------------------------------------------

TEST(HttpCors, AnyOriginAndPreflightOnPathsWithoutOptionsRoutes) {
  serve(
      [](http::Server& s) {
        s.use(http::cors());
        s.get("/items", [](Request&) { return Response::text("items"); });
      },
      [](std::uint16_t port) {
        auto r = fetch(port, options_request("/items", "https://a.example",
                                             "Access-Control-Request-Headers: X-Token\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 204);
        EXPECT_EQ(r->header("Access-Control-Allow-Origin").value_or(""), "*");
        EXPECT_NE(r->header("Access-Control-Allow-Methods").value_or("").find("PUT"),
                  std::string::npos);
        EXPECT_EQ(r->header("Access-Control-Allow-Headers").value_or(""), "X-Token");
        EXPECT_EQ(r->header("Access-Control-Max-Age").value_or(""), "600");
        // A preflight for a path no route has is answered too; a plain GET there is a 404.
        r = fetch(port, options_request("/unknown", "https://a.example"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 204);
        r = fetch(port, get_request("/unknown", "Origin: https://a.example\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404);
        EXPECT_EQ(r->header("Access-Control-Allow-Origin").value_or(""), "*");
        r = fetch(port, get_request("/items", "Origin: https://a.example\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "items");
        EXPECT_EQ(r->header("Access-Control-Allow-Origin").value_or(""), "*");
        EXPECT_EQ(r->header_count("Vary"), 0u);  // "*" does not depend on the origin
        // Without Origin: not a CORS request, nothing added.
        r = fetch(port, get_request("/items"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header_count("Access-Control-Allow-Origin"), 0u);
      });
}

TEST(HttpCors, OriginListWithCredentials) {
  serve(
      [](http::Server& s) {
        s.use("/api", http::cors({.origins = {"https://app.example"},
                                  .credentials = true,
                                  .exposed_headers = {"X-Total-Count"},
                                  .max_age = std::chrono::seconds(60)}));
        s.get("/api/x", [](Request&) { return Response::text("x").header("Vary", "Accept"); });
      },
      [](std::uint16_t port) {
        auto r = fetch(port, get_request("/api/x", "Origin: https://app.example\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header("Access-Control-Allow-Origin").value_or(""), "https://app.example");
        EXPECT_EQ(r->header("Access-Control-Allow-Credentials").value_or(""), "true");
        EXPECT_EQ(r->header("Access-Control-Expose-Headers").value_or(""), "X-Total-Count");
        EXPECT_EQ(r->header("Vary").value_or(""), "Accept, Origin");
        r = fetch(port, get_request("/api/x", "Origin: https://evil.example\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->header_count("Access-Control-Allow-Origin"), 0u);
        EXPECT_EQ(r->header("Vary").value_or(""), "Accept, Origin");
        r = fetch(port, options_request("/api/x", "https://evil.example"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 204);
        EXPECT_EQ(r->header_count("Access-Control-Allow-Origin"), 0u);
        EXPECT_EQ(r->header_count("Access-Control-Allow-Methods"), 0u);
        r = fetch(port, options_request("/api/x", "https://app.example"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header("Access-Control-Max-Age").value_or(""), "60");
        EXPECT_EQ(r->header("Access-Control-Allow-Origin").value_or(""), "https://app.example");
        // Outside the prefix: no CORS (and OPTIONS there is the router's 405).
        r = fetch(port, options_request("/other", "https://app.example"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404);
      });
}

// ---- access_log ----------------------------------------------------------------------------

struct Captured {
  std::mutex mutex;
  std::condition_variable cv;
  std::string lines;
  bool wait_for_lines(std::size_t n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] {
      return static_cast<std::size_t>(std::count(lines.begin(), lines.end(), '\n')) >= n;
    });
  }
};

http::AccessLogSink capture(const std::shared_ptr<Captured>& c) {
  return [c](std::string_view lines) {
    std::lock_guard lock(c->mutex);
    c->lines.append(lines);
    c->cv.notify_all();
  };
}

TEST(HttpAccessLog, JsonLinesForRoutesMissesAndParserErrors) {
  auto captured = std::make_shared<Captured>();
  const std::thread::id loop_thread = std::this_thread::get_id();
  auto sink_thread = std::make_shared<std::thread::id>();
  serve(
      [&](http::Server& s) {
        s.use(http::access_log([captured, sink_thread](std::string_view lines) {
          {
            std::lock_guard lock(captured->mutex);
            *sink_thread = std::this_thread::get_id();
          }
          capture(captured)(lines);
        }));
        s.get("/hello", [](Request&) { return Response::text("Hello, World!"); });
      },
      [&](std::uint16_t port) {
        ASSERT_TRUE(fetch(port, get_request("/hello", "X-Request-Id: req-1\r\n")));
        ASSERT_TRUE(fetch(port, get_request("/nope?q=\"x\"")));
        ASSERT_TRUE(fetch(port, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"));
        ASSERT_TRUE(captured->wait_for_lines(3)) << captured->lines;
      });
  std::lock_guard lock(captured->mutex);
  const std::string& log = captured->lines;
  EXPECT_NE(*sink_thread, loop_thread);
  EXPECT_NE(log.find(R"("id":"req-1","method":"GET","target":"/hello","status":200,"bytes":13,)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("target":"/nope?q=\"x\"","status":404)"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("status":400)"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("peer":"127.0.0.1:)"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("duration_us":)"), std::string::npos) << log;
  EXPECT_NE(log.find(R"({"time":"20)"), std::string::npos) << log;
}

TEST(HttpAccessLog, CommonLogFormat) {
  auto captured = std::make_shared<Captured>();
  serve(
      [&](http::Server& s) {
        s.use(http::access_log(capture(captured), {.format = http::AccessLogFormat::common}));
        s.get("/hello", [](Request&) { return Response::text("Hello"); });
      },
      [&](std::uint16_t port) {
        ASSERT_TRUE(fetch(port, get_request("/hello", "X-Request-Id: abc\r\n")));
        ASSERT_TRUE(captured->wait_for_lines(1));
      });
  std::lock_guard lock(captured->mutex);
  EXPECT_EQ(captured->lines.rfind("127.0.0.1 - - [", 0), 0u) << captured->lines;
  EXPECT_NE(captured->lines.find(" +0000] \"GET /hello HTTP/1.1\" 200 5 abc "), std::string::npos)
      << captured->lines;
}

TEST(HttpAccessLog, AFullQueueDropsAndCountsLines) {
  auto open = std::make_shared<std::atomic<bool>>(false);  // the sink waits for it:
  auto captured = std::make_shared<Captured>();            // lines pile up in the queue
  {
    Loop loop;
    {
      http::Server s(loop);
      s.use(http::access_log(
          [open, captured](std::string_view lines) {
            while (!open->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            capture(captured)(lines);
          },
          {.max_queued_bytes = 600}));
      s.get("/x", [](Request&) { return Response::text("x"); });
      ASSERT_FALSE(s.listen(0, "127.0.0.1"));
      const std::uint16_t port = s.port();
      run_with_client(loop, s, [&] {
        struct Opener {  // also when an assertion returns early: the writer must not hang
          std::shared_ptr<std::atomic<bool>> flag;
          ~Opener() { flag->store(true); }
        } opener{open};
        for (int i = 0; i < 20; ++i) ASSERT_TRUE(fetch(port, get_request("/x")));
      });
    }
    weft::testing::expect_clean_close(loop);
  }
  // The writer thread was joined with the server: everything it had is written.
  std::lock_guard lock(captured->mutex);
  EXPECT_NE(captured->lines.find("dropped "), std::string::npos) << captured->lines;
  EXPECT_LT(std::count(captured->lines.begin(), captured->lines.end(), '\n'), 20);
}

// ---- rate_limit ------------------------------------------------------------------------------

TEST(HttpRateLimit, BurstThen429WithRetryAfter) {
  serve(
      [](http::Server& s) {
        s.use("/api", http::rate_limit({.per_ip = 0.5, .burst = 3}));
        s.get("/api/x", [](Request&) { return Response::text("ok"); });
        s.get("/free", [](Request&) { return Response::text("free"); });
      },
      [](std::uint16_t port) {
        RawClient c = RawClient::tcp(port);
        for (int i = 0; i < 3; ++i) {
          ASSERT_TRUE(c.send(get_request("/api/x")));
          auto r = c.read_response();
          ASSERT_TRUE(r);
          EXPECT_EQ(r->status, 200) << i;
        }
        ASSERT_TRUE(c.send(get_request("/api/x")));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 429);
        EXPECT_EQ(r->header("Retry-After").value_or(""), "2");  // 1 token at 0.5/s
        EXPECT_FALSE(r->connection_close());
        r = fetch(port, get_request("/free"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
      });
}

TEST(HttpRateLimit, BadOptionsAreRefused) {
  EXPECT_THROW(http::rate_limit({.per_ip = 0, .burst = 1}), std::invalid_argument);
  EXPECT_THROW(http::rate_limit({.per_ip = 1, .burst = 0.5}), std::invalid_argument);
  EXPECT_THROW(http::rate_limit({.per_ip = 1, .burst = 1, .max_clients = 0}),
               std::invalid_argument);
}

// ---- body_limit ------------------------------------------------------------------------------

TEST(HttpBodyLimit, PerPrefixLimitsAnswer413BeforeTheHandler) {
  http::ServerOptions o;
  o.limits.max_body = 1000;
  serve(
      [](http::Server& s) {
        s.use("/small", http::body_limit(10));
        s.use("/big", http::body_limit(5000));
        s.post("/small",
               [](Request& req) { return Response::text(std::to_string(req.body().size())); });
        s.post("/big",
               [](Request& req) { return Response::text(std::to_string(req.body().size())); });
        s.post("/default",
               [](Request& req) { return Response::text(std::to_string(req.body().size())); });
      },
      [](std::uint16_t port) {
        auto r = fetch(port, post_request("/small", std::string(10, 'x')));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "10");
        r = fetch(port, post_request("/small", std::string(11, 'x')));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413);
        r = fetch(port, post_request("/big", std::string(3000, 'x')));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "3000");
        r = fetch(port, post_request("/default", std::string(3000, 'x')));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413);
      },
      o);
}

// ---- cookies and forms
// ---------------------------------------------------------------------------

TEST(HttpCookies, ReadAndSet) {
  serve(
      [](http::Server& s) {
        s.get("/c", [](Request& req) {
          Response res = Response::text(req.cookie("sid").value_or("none") + "|" +
                                        req.cookie("q").value_or("none") + "|" +
                                        (req.cookie("missing") ? "?" : "absent"));
          res.set_cookie("sid", "abc123");
          res.set_cookie("pref", "dark",
                         {.max_age = std::chrono::hours(1),
                          .path = "/app",
                          .domain = "example.org",
                          .secure = true,
                          .http_only = false,
                          .same_site = http::SameSite::none});
          return res;
        });
      },
      [](std::uint16_t port) {
        auto r = fetch(port, get_request("/c", "Cookie: a=1; sid=s%20x;q=\"quoted\"\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "s%20x|quoted|absent");
        std::vector<std::string> set;
        for (const auto& [n, v] : r->headers) {
          if (n == "Set-Cookie") set.push_back(v);
        }
        ASSERT_EQ(set.size(), 2u);
        EXPECT_EQ(set[0], "sid=abc123; Path=/; HttpOnly; SameSite=Lax");
        EXPECT_EQ(set[1],
                  "pref=dark; Max-Age=3600; Path=/app; Domain=example.org; Secure; SameSite=None");
      });
}

TEST(HttpCookies, InvalidCookiesAreRefused) {
  Response r;
  EXPECT_THROW(r.set_cookie("a b", "v"), std::invalid_argument);
  EXPECT_THROW(r.set_cookie("", "v"), std::invalid_argument);
  EXPECT_THROW(r.set_cookie("a", "v;w"), std::invalid_argument);
  EXPECT_THROW(r.set_cookie("a", "has space"), std::invalid_argument);
  EXPECT_THROW(r.set_cookie("a", "x\r\nSet-Cookie: evil=1"), std::invalid_argument);
  EXPECT_THROW(r.set_cookie("a", "v", {.path = "/x;Secure"}), std::invalid_argument);
  EXPECT_THROW(r.set_cookie("a", "v", {.same_site = http::SameSite::none}), std::invalid_argument);
  EXPECT_TRUE(r.headers().empty());
  r.set_cookie("gone", "", {.max_age = std::chrono::seconds(-5)});
  EXPECT_EQ(r.header_value("Set-Cookie"), "gone=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax");
}

TEST(HttpForms, UrlencodedBodies) {
  serve(
      [](http::Server& s) {
        s.post("/f", [](Request& req) -> Task<Response> {
          http::Form form = co_await req.form();
          std::string out = form.get("name").value_or("-") + "|";
          for (const std::string& t : form.get_all("tag")) out += t + ",";
          out += "|" + std::to_string(form.fields().size());
          co_return Response::text(out);
        });
        s.route("POST", "/streamed",
                [](Request& req) -> Task<Response> {
                  http::Form form = co_await req.form();
                  co_return Response::text(form.get("k").value_or("-"));
                },
                {.stream_body = true});
      },
      [](std::uint16_t port) {
        const std::string type =
            "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n";
        auto r = fetch(port, post_request("/f", "name=J%C3%B6rg+M&tag=a&&tag=b%26c&empty", type));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "J\xC3\xB6rg M|a,b&c,|4");
        r = fetch(port, post_request("/f", "name=x", "Content-Type: text/plain\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 415);
        r = fetch(port, post_request("/streamed", "k=" + std::string(5000, 'v'), type));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body.size(), 5000u);
      });
}

}  // namespace
}  // namespace weft::itest

namespace weft::itest {
namespace {

// ---- max_connections: 503 + Retry-After ---------------------------------------------------------

TEST(HttpOverload, OverTheLimitIsAnswered503ThenClosedAtTheRateBound) {
  http::ServerOptions o;
  o.max_connections = 1;
  o.overload_retry_after = std::chrono::seconds(7);
  o.overload_responses_per_second = 2;
  Loop loop;
  {
    http::Server server(loop, o);
    server.get("/x", [](Request&) { return Response::text("x"); });
    ASSERT_FALSE(server.listen(0, "127.0.0.1"));
    const std::uint16_t port = server.port();
    run_with_client(loop, server, [&] {
      RawClient first = RawClient::tcp(port);
      ASSERT_TRUE(first.send(get_request("/x")));
      ASSERT_TRUE(first.read_response());  // admitted and open
      for (int i = 0; i < 2; ++i) {
        RawClient over = RawClient::tcp(port);
        ASSERT_TRUE(over.ok());
        (void)over.send(get_request("/x"));
        auto r = over.read_response();
        ASSERT_TRUE(r) << over.error();
        EXPECT_EQ(r->status, 503);
        EXPECT_EQ(r->header("Retry-After").value_or(""), "7");
        EXPECT_TRUE(r->connection_close());
        EXPECT_NE(over.wait_closed(), CloseKind::timeout);
      }
      RawClient third = RawClient::tcp(port);  // past 2 per second: closed without a word
      EXPECT_NE(third.wait_closed(), CloseKind::timeout);
      EXPECT_EQ(third.buffered(), "");
      ASSERT_TRUE(first.send(get_request("/x")));  // the admitted one still works
      auto r = first.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
    });
    EXPECT_EQ(server.stats().connections_rejected, 3u);
    EXPECT_EQ(server.metrics().connections_rejected, 3u);
    EXPECT_EQ(server.metrics().connections_shed, 0u);
  }
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::itest

#include <weft/http/compression.hpp>

#include <zlib.h>
#include <brotli/decode.h>

namespace weft::itest {
namespace {

std::string gunzip(std::string_view in, bool gzip) {
  z_stream z{};
  if (inflateInit2(&z, gzip ? 15 + 16 : 15) != Z_OK) return "<init failed>";
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  out.resize(z.total_out);
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : "<inflate failed>";
}

std::string unbrotli(std::string_view in) {
  std::string out(1 << 20, '\0');
  std::size_t size = out.size();
  if (BrotliDecoderDecompress(in.size(), reinterpret_cast<const std::uint8_t*>(in.data()), &size,
                              reinterpret_cast<std::uint8_t*>(out.data())) !=
      BROTLI_DECODER_RESULT_SUCCESS) {
    return "<brotli failed>";
  }
  out.resize(size);
  return out;
}

TEST(HttpCompression, ChoosesACodingByAcceptEncoding) {
  const http::CompressionOptions o;
  using http::Coding;
  EXPECT_EQ(http::choose_coding("gzip, deflate, br", o), Coding::br);
  EXPECT_EQ(http::choose_coding("gzip;q=1, br;q=0.5", o), Coding::gzip);
  EXPECT_EQ(http::choose_coding("deflate", o), Coding::deflate);
  EXPECT_EQ(http::choose_coding("br;q=0, *;q=0.1", o), Coding::gzip);
  EXPECT_EQ(http::choose_coding("identity", o), Coding::identity);
  EXPECT_EQ(http::choose_coding("", o), Coding::identity);
  EXPECT_EQ(http::choose_coding("br", {.brotli = false}), Coding::identity);
}

// zlib's state is kept per thread and reset between bodies: each body must come out whole
// and on its own, whichever coding and level the previous one used on this thread.
TEST(HttpCompression, ReusedDeflateStateGivesIndependentBodies) {
  using http::Coding;
  const std::string a(3000, 'a'), b = "short body, then a longer one " + std::string(2000, 'b');
  struct Step {
    const std::string* body;
    Coding coding;
    int level;
  };
  const Step steps[] = {{&a, Coding::gzip, 6},    {&b, Coding::gzip, 6}, {&a, Coding::deflate, 6},
                        {&b, Coding::deflate, 1}, {&b, Coding::gzip, 1}, {&a, Coding::gzip, 6}};
  for (const Step& s : steps) {
    std::optional<std::string> packed = http::compress(*s.body, s.coding, {.gzip_level = s.level});
    ASSERT_TRUE(packed.has_value());
    EXPECT_EQ(gunzip(*packed, s.coding == Coding::gzip), *s.body);
  }
}

TEST(HttpCompression, CompressesLargeCompressibleBodiesInlineAndOnThePool) {
  const std::string text(5000, 'a');
  const std::string big = [] {
    std::string s;
    for (int i = 0; s.size() < 200000; ++i) s += "line " + std::to_string(i) + "\n";
    return s;
  }();
  serve(
      [&](http::Server& s) {
        s.use(http::compression());
        s.get("/text", [&](Request&) { return Response::text(text); });
        s.get("/small", [](Request&) { return Response::text("tiny"); });
        s.get("/png", [&](Request&) { return Response::bytes(text, "image/png"); });
        s.get("/big", [&](Request&) { return Response::json(big); });
      },
      [&](std::uint16_t port) {
        for (auto [coding, gz] : {std::pair{"gzip", true}, std::pair{"deflate", false}}) {
          auto r =
              fetch(port, get_request("/text", std::string("Accept-Encoding: ") + coding + "\r\n"));
          ASSERT_TRUE(r);
          EXPECT_EQ(r->header("Content-Encoding").value_or(""), coding);
          EXPECT_EQ(r->header("Vary").value_or(""), "Accept-Encoding");
          EXPECT_LT(r->body.size(), 200u);
          EXPECT_EQ(gunzip(r->body, gz), text);
        }
        auto r = fetch(port, get_request("/text", "Accept-Encoding: gzip, br\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header("Content-Encoding").value_or(""), "br");
        EXPECT_EQ(unbrotli(r->body), text);
        r = fetch(port, get_request("/text"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header_count("Content-Encoding"), 0u);
        EXPECT_EQ(r->header("Vary").value_or(""), "Accept-Encoding");
        EXPECT_EQ(r->body, text);
        r = fetch(port, get_request("/small", "Accept-Encoding: gzip\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header_count("Content-Encoding"), 0u);
        r = fetch(port, get_request("/png", "Accept-Encoding: gzip\r\n"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header_count("Content-Encoding"), 0u);
        EXPECT_EQ(r->header_count("Vary"), 0u);
        // Above inline_max: compressed on the pool, sent chunked.
        r = fetch(port, get_request("/big", "Accept-Encoding: gzip\r\n"));
        ASSERT_TRUE(r);
        EXPECT_TRUE(r->chunked);
        EXPECT_EQ(r->header("Content-Type").value_or(""), "application/json");
        EXPECT_EQ(r->header("Content-Encoding").value_or(""), "gzip");
        EXPECT_EQ(gunzip(r->body, true), big);
      });
}

}  // namespace
}  // namespace weft::itest

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft::itest {
namespace {

// One GET from the loopback address `from` (127.0.0.N: Linux routes all of 127/8 to lo);
// the response's status, or 0.
int status_from(const char* from, std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, from, &local.sin_addr);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
    ::close(fd);
    return 0;
  }
  RawClient c(fd);  // owns fd now
  if (!c.send(get_request(path))) return 0;
  auto r = c.read_response();
  return r ? r->status : 0;
}

// max_clients bounds the buckets: a third client evicts the least recently used one,
// whose next request then starts with a full bucket again.
TEST(HttpRateLimit, MemoryIsBoundedByMaxClients) {
  serve(
      [](http::Server& s) {
        s.use(http::rate_limit({.per_ip = 0.001, .burst = 1, .max_clients = 2}));
        s.get("/x", [](Request&) { return Response::text("x"); });
      },
      [](std::uint16_t port) {
        EXPECT_EQ(status_from("127.0.0.2", port, "/x"), 200);
        EXPECT_EQ(status_from("127.0.0.2", port, "/x"), 429);  // its one token is spent
        EXPECT_EQ(status_from("127.0.0.3", port, "/x"), 200);
        EXPECT_EQ(status_from("127.0.0.4", port, "/x"), 200);  // evicts .2 (LRU)
        EXPECT_EQ(status_from("127.0.0.2", port, "/x"), 200);  // forgotten: a new bucket
        EXPECT_EQ(status_from("127.0.0.4", port, "/x"), 429);  // still tracked
      });
}

}  // namespace
}  // namespace weft::itest
