// Mounting (Server::mount, static_files under "/*"), Response::redirect, remove_header,
// and the README's server example.
#include "http_test_client.hpp"
#include "support/loop_testing.hpp"

#include <weft/weft.hpp>  // what the README's example includes

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace weft::itest {
namespace {

using http::Request;
using http::Response;

// A "public" tree in a fresh temp dir, removed at the end.
class PublicDir {
 public:
  PublicDir() {
    char tmpl[] = "/tmp/weft-mount-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    std::filesystem::create_directories(root_ + "/sub");
    std::filesystem::create_directories(root_ + "/static");
    write("app.js", "console.log(1)\n");
    write("index.html", "<h1>home</h1>\n");
    write("sub/x.txt", "x\n");
    write("static/app.js", "WRONG: the prefix was not stripped\n");
  }
  ~PublicDir() { std::filesystem::remove_all(root_); }
  const std::string& path() const { return root_; }

 private:
  void write(const std::string& name, const std::string& text) {
    std::ofstream(root_ + "/" + name) << text;
  }
  std::string root_;
};

void serve(http::Server& server, Loop& loop, const std::function<void(std::uint16_t)>& client) {
  ASSERT_FALSE(server.listen(0, "127.0.0.1"));
  const std::uint16_t port = server.port();
  run_with_client(loop, server, [&] { client(port); });
}

std::optional<HttpResponse> fetch(std::uint16_t port, const std::string& request) {
  RawClient c = RawClient::tcp(port);
  if (!c.ok() || !c.send(request)) return std::nullopt;
  return c.read_response();
}

TEST(HttpMount, MountAndWildcardRoutesServeTheRestOfThePath) {
  PublicDir dir;
  Loop loop;
  {
    http::Server server(loop);
    server.mount("/static", http::static_files(dir.path()));
    server.get("/files/*", http::static_files(dir.path()));
    server.mount("/", http::static_files(dir.path()));  // the whole tree at the root
    serve(server, loop, [](std::uint16_t port) {
      struct Case {
        const char* path;
        int status;
        const char* body;
      };
      for (const Case& c :
           {Case{"/static/app.js", 200, "console.log(1)\n"},
            Case{"/files/app.js", 200, "console.log(1)\n"}, Case{"/static/sub/x.txt", 200, "x\n"},
            Case{"/static/", 200, "<h1>home</h1>\n"},
            Case{"/static/static/app.js", 200,
                 "WRONG: the prefix was not stripped\n"},  // the real file
            Case{"/static/nope.js", 404, nullptr}, Case{"/static/..%2Fapp.js", 400, nullptr},
            Case{"/app.js", 200, "console.log(1)\n"}, Case{"/sub/x.txt", 200, "x\n"}}) {
        SCOPED_TRACE(c.path);
        auto r = fetch(port, get_request(c.path));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, c.status);
        if (c.body) {
          EXPECT_EQ(r->body, c.body);
        }
      }
      // A directory without its slash redirects with the mount prefix kept.
      auto r = fetch(port, get_request("/static/sub"));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 301);
      EXPECT_EQ(r->header("Location").value_or(""), "/static/sub/");
      // mount() answers GET and HEAD; other methods get the router's 405.
      r = fetch(port, post_request("/static/app.js", "x"));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 405);
    });
  }
  weft::testing::expect_clean_close(loop);
}

TEST(HttpMount, BadPrefixesAreRefused) {
  Loop loop;
  {
    http::Server server(loop);
    EXPECT_THROW(server.mount("static", http::static_files("/nonexistent")), std::invalid_argument);
    EXPECT_THROW(server.mount("/a/*", http::static_files("/nonexistent")), std::invalid_argument);
    EXPECT_THROW(server.use("api", [](const Request&, Response&) {}), std::invalid_argument);
  }
  weft::testing::expect_clean_close(loop);
}

TEST(HttpResponse, RedirectAndRemoveHeader) {
  Response r = Response::redirect("/new?a=1");
  EXPECT_EQ(r.status_code(), 302);
  EXPECT_EQ(r.header_value("Location"), "/new?a=1");
  EXPECT_EQ(Response::redirect("https://example.org/", 308).status_code(), 308);
  EXPECT_THROW((void)Response::redirect("/x", 200), std::invalid_argument);
  EXPECT_THROW((void)Response::redirect("/x\r\nSet-Cookie: a=b"), std::invalid_argument);
  EXPECT_THROW((void)Response::redirect(""), std::invalid_argument);

  Response h = Response(204).header("X-A", "1").header("x-a", "2").header("X-B", "3");
  h.remove_header("X-a");
  EXPECT_EQ(h.headers().size(), 1u);
  EXPECT_EQ(h.header_value("X-B"), "3");
  Response chained = Response(200).header("X-C", "1").remove_header("X-C").header("X-D", "2");
  EXPECT_EQ(chained.headers().size(), 1u);
  h.remove_header("absent");
  EXPECT_EQ(h.headers().size(), 1u);
}

// The README's "A server in a few lines", as written there (with expensive_lookup and the
// port made local): compiles, and each route answers as the text says.
std::string expensive_lookup() { return "rows"; }

TEST(HttpMount, ReadmeExample) {
  PublicDir dir;
  const std::string old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(std::filesystem::path(dir.path()).parent_path());
  const std::string public_name = std::filesystem::path(dir.path()).filename();
  Loop loop;
  {
    // --- from README.md (static root renamed to the temp dir) ---
    weft::Loop& l = loop;
    weft::http::Server app(l);
    app.get("/users/:id", [](weft::http::Request& req) {
      return weft::http::Response::json("{\"id\":\"" + std::string(req.param("id")) + "\"}");
    });
    app.get("/slow", [](weft::http::Request&) -> weft::Task<weft::http::Response> {
      auto rows = co_await weft::blocking([] { return expensive_lookup(); });  // on the pool
      co_return weft::http::Response::text(rows);
    });
    app.mount("/static", weft::http::static_files(public_name));
    app.on_error([](const weft::http::Request&, const weft::http::HttpError& e) {  // every error
      return weft::http::Response::json("{\"error\":" + std::to_string(e.status()) + "}",
                                        e.status());
    });
    // --- end ---
    serve(app, loop, [](std::uint16_t port) {
      auto r = fetch(port, get_request("/users/a%20b"));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, "{\"id\":\"a b\"}");
      r = fetch(port, get_request("/slow"));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, "rows");
      r = fetch(port, get_request("/static/app.js"));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, "console.log(1)\n");
      r = fetch(port, get_request("/nope"));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, "{\"error\":404}");
    });
  }
  std::filesystem::current_path(old_cwd);
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::itest
