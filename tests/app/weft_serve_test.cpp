// weft-serve driven over HTTP as a user would: the real binary, started with flags, talked
// to on 127.0.0.1, stopped with signals. Every test runs against each database backend
// (see backends() below): the same suite for SQLite and PostgreSQL.
#include "app/serve_backends.hpp"
#include "app/serve_process.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace weft::serve_test {
namespace {

using json = nlohmann::ordered_json;

const char* const kSeed = R"({
  "posts": [
    {"id": 1, "title": "Hello", "views": 10, "author": {"name": "ann"}, "tags": ["a"]},
    {"id": 2, "title": "World", "views": 200, "published": true},
    {"id": 3, "title": "third post", "views": 5, "published": false},
    {"title": "no id", "views": 50}
  ],
  "comments": [{"id": "c1", "body": "nice", "postId": 1}],
  "profile": {"name": "singular"}
})";

class WeftServe : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { db_url_ = make_database_url(GetParam(), dir_); }

  // Starts weft-serve on this test's database; extra flags appended.
  void start(std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), {"--db", db_url_});
    ASSERT_TRUE(server_.start(flags, dir_.path())) << server_.output();
    client_.emplace(server_.port());
  }
  void start_seeded(std::vector<std::string> flags = {}) {
    dir_.write("seed.json", kSeed);
    flags.insert(flags.end(), {"--seed", dir_.file("seed.json")});
    start(std::move(flags));
  }
  void restart(std::vector<std::string> flags = {}) {
    ASSERT_EQ(server_.stop(SIGTERM), 0) << server_.output();
    start(std::move(flags));
  }
  void TearDown() override {
    if (server_.pid() > 0) {
      EXPECT_EQ(server_.stop(SIGTERM), 0) << server_.output();
    }
  }

  ApiClient& api() { return *client_; }
  static json body(const HttpResponse& r) { return json::parse(r.body); }
  std::vector<int> ids(const std::string& target) {
    auto r = api().get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    std::vector<int> out;
    for (auto& d : body(r)) out.push_back(d["id"].get<int>());
    return out;
  }

  // 8 writers, 25 POSTs each, to `target` on the given ports in turn (writer w uses
  // ports[w % n]): the ids of the 201s. A failed POST is a test failure.
  static std::vector<int> post_concurrently(const std::vector<std::uint16_t>& ports,
                                            const std::string& target, bool connection_per_post) {
    std::mutex mu;
    std::vector<int> acked;
    std::vector<std::thread> writers;
    for (std::size_t w = 0; w < 8; ++w) {
      writers.emplace_back([&, port = ports[w % ports.size()]] {
        std::optional<ApiClient> c;
        for (int i = 0; i < 25; ++i) {
          if (!c || connection_per_post) c.emplace(port);
          auto r = c->request("POST", target, R"({"n": 1})");
          if (!r || r->status != 201) {
            ADD_FAILURE() << (r ? std::to_string(r->status) + " " + r->body : "no response");
            return;
          }
          std::lock_guard lock(mu);
          acked.push_back(json::parse(r->body)["id"].get<int>());
        }
      });
    }
    for (auto& t : writers) t.join();
    return acked;
  }

  TempDir dir_;
  std::string db_url_;
  ServeProcess server_;
  std::optional<ApiClient> client_;
};

TEST_P(WeftServe, CreateReadReplaceMergeDelete) {
  start();
  auto created = api().post("/api/notes", R"({"title": "first", "meta": {"a": 1, "b": 2}})");
  ASSERT_EQ(created.status, 201) << created.body;
  json doc = body(created);
  EXPECT_EQ(doc["id"], 1);
  EXPECT_EQ(doc["title"], "first");
  EXPECT_EQ(created.header("Location").value_or(""), "/api/notes/1");
  EXPECT_EQ(body(api().post("/api/notes", R"({"title": "second"})"))["id"], 2);

  auto got = api().get("/api/notes/1");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(body(got), doc);
  EXPECT_EQ(got.header("Content-Type").value_or(""), "application/json");

  auto put = api().send("PUT", "/api/notes/1", R"({"id": 77, "title": "replaced"})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(body(put), json::parse(R"({"id": 1, "title": "replaced"})"));

  auto patch = api().send("PATCH", "/api/notes/1", R"({"title": null, "meta": {"c": 3}, "id": 5})");
  ASSERT_EQ(patch.status, 200) << patch.body;
  EXPECT_EQ(body(patch), json::parse(R"({"id": 1, "meta": {"c": 3}})"));
  EXPECT_EQ(body(api().get("/api/notes/1")), body(patch));

  auto del = api().send("DELETE", "/api/notes/1");
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(del.body, "{}");
  EXPECT_EQ(api().get("/api/notes/1").status, 404);
  EXPECT_EQ(api().send("DELETE", "/api/notes/1").status, 404);
  EXPECT_EQ(ids("/api/notes"), std::vector<int>{2});
}

TEST_P(WeftServe, ClientIdsAndStringIds) {
  start();
  EXPECT_EQ(api().post("/api/users", R"({"id": 10, "name": "x"})").status, 201);
  EXPECT_EQ(body(api().post("/api/users", R"({"name": "y"})"))["id"], 11);  // one past the largest
  auto s = api().post("/api/users", R"({"id": "u-7", "name": "z"})");
  ASSERT_EQ(s.status, 201) << s.body;
  EXPECT_EQ(body(api().get("/api/users/u-7"))["name"], "z");
  auto dup = api().post("/api/users", R"({"id": 10})");
  EXPECT_EQ(dup.status, 409);
  EXPECT_NE(body(dup)["error"].get<std::string>().find("10"), std::string::npos);
  EXPECT_EQ(api().post("/api/users", R"({"id": 1.5})").status, 400);
  EXPECT_EQ(api().post("/api/users", R"({"id": ""})").status, 400);
}

TEST_P(WeftServe, SeedImportsAnEmptyDatabaseOnly) {
  start_seeded();
  EXPECT_NE(server_.output().find("imported 5 documents in 2 collections"), std::string::npos)
      << server_.output();
  EXPECT_NE(server_.output().find("'profile' is not an array"), std::string::npos);
  EXPECT_EQ(body(api().get("/api")), json::parse(R"({"comments": 1, "posts": 4})"));
  EXPECT_EQ(ids("/api/posts"), (std::vector<int>{1, 2, 3, 4}));  // the id-less one got 4
  EXPECT_EQ(body(api().get("/api/comments/c1"))["body"], "nice");
  EXPECT_EQ(api().get("/api/profile").status, 404);

  ASSERT_EQ(api().send("DELETE", "/api/posts/2").status, 200);
  restart({"--seed", dir_.file("seed.json")});  // not empty now: the seed is not re-applied
  EXPECT_NE(server_.output().find("not imported: the database is not empty"), std::string::npos);
  EXPECT_EQ(ids("/api/posts"), (std::vector<int>{1, 3, 4}));
}

TEST_P(WeftServe, BadSeedIsRefusedWithItsPlaceAndImportsNothing) {
  dir_.write("bad.json", R"({"a": [{"id": 1}], "b": [{"id": 1}, {"id": 1}]})");
  ASSERT_TRUE(
      server_.start({"--db", db_url_, "--seed", dir_.file("bad.json")}, dir_.path(), false));
  EXPECT_EQ(server_.wait_exit(), 1);
  EXPECT_NE(server_.output().find("b[1]: duplicate id 1"), std::string::npos) << server_.output();
  dir_.write("broken.json", R"({"a": [{"id": 1},]})");
  ASSERT_TRUE(
      server_.start({"--db", db_url_, "--seed", dir_.file("broken.json")}, dir_.path(), false));
  EXPECT_EQ(server_.wait_exit(), 1);
  EXPECT_NE(server_.output().find("parse error"), std::string::npos) << server_.output();
  start();
  EXPECT_EQ(api().get("/api").body, "{}");  // nothing of either seed was written
}

TEST_P(WeftServe, Filters) {
  start_seeded();
  EXPECT_EQ(ids("/api/posts?title=World"), std::vector<int>{2});
  EXPECT_EQ(ids("/api/posts?views=10"), std::vector<int>{1});
  EXPECT_EQ(ids("/api/posts?published=true"), std::vector<int>{2});
  EXPECT_EQ(ids("/api/posts?id=1&id=3"), (std::vector<int>{1, 3}));
  EXPECT_EQ(ids("/api/posts?author.name=ann"), std::vector<int>{1});
  EXPECT_EQ(ids("/api/posts?title=third%20post"), std::vector<int>{3});
  EXPECT_EQ(ids("/api/posts?title=third+post"), std::vector<int>{3});
  EXPECT_EQ(ids("/api/posts?views_gte=10&views_lte=100"), (std::vector<int>{1, 4}));
  EXPECT_EQ(ids("/api/posts?views_gte=9"), (std::vector<int>{1, 2, 4}));  // numbers, not text
  EXPECT_EQ(ids("/api/posts?published_ne=true"), (std::vector<int>{1, 3, 4}));
  EXPECT_EQ(ids("/api/posts?title_like=WOR"), std::vector<int>{2});
  EXPECT_EQ(ids("/api/posts?title_like=50%25"), std::vector<int>{});  // % is literal
  EXPECT_EQ(ids("/api/posts?q=ANN"), std::vector<int>{1});
  EXPECT_EQ(ids("/api/posts?q=post"), std::vector<int>{3});
  EXPECT_EQ(ids("/api/posts?nothing=here"), std::vector<int>{});
}

TEST_P(WeftServe, Sorting) {
  start_seeded();
  EXPECT_EQ(ids("/api/posts?_sort=views"), (std::vector<int>{3, 1, 4, 2}));
  EXPECT_EQ(ids("/api/posts?_sort=views&_order=desc"), (std::vector<int>{2, 4, 1, 3}));
  EXPECT_EQ(ids("/api/posts?_sort=title"), (std::vector<int>{1, 2, 4, 3}));
  ASSERT_EQ(api().post("/api/posts", R"({"title": "World", "views": 1})").status, 201);
  EXPECT_EQ(ids("/api/posts?_sort=title,views&_order=asc,desc"), (std::vector<int>{1, 2, 5, 4, 3}));
}

TEST_P(WeftServe, PaginationHeaders) {
  start();
  for (int i = 0; i < 25; ++i) ASSERT_EQ(api().post("/api/items", R"({"n": 1})").status, 201);
  auto page = api().get("/api/items?_page=2&_limit=10");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("X-Total-Count").value_or(""), "25");
  EXPECT_EQ(body(page).size(), 10u);
  EXPECT_EQ(body(page)[0]["id"], 11);
  std::string link = page.header("Link").value_or("");
  const std::string base = "</api/items?";  // relative references, whatever the Host
  EXPECT_NE(link.find(base + "_page=1&_limit=10>; rel=\"first\""), std::string::npos) << link;
  EXPECT_NE(link.find(base + "_page=1&_limit=10>; rel=\"prev\""), std::string::npos) << link;
  EXPECT_NE(link.find(base + "_page=3&_limit=10>; rel=\"next\""), std::string::npos) << link;
  EXPECT_NE(link.find(base + "_page=3&_limit=10>; rel=\"last\""), std::string::npos) << link;
  EXPECT_EQ(ids("/api/items?_page=3&_limit=10").size(), 5u);
  auto past = api().get("/api/items?_page=9&_limit=10");
  EXPECT_EQ(past.body, "[]");
  EXPECT_EQ(past.header("X-Total-Count").value_or(""), "25");
  EXPECT_EQ(ids("/api/items?_start=5&_end=8"), (std::vector<int>{6, 7, 8}));
  EXPECT_EQ(ids("/api/items?_start=20&_limit=2"), (std::vector<int>{21, 22}));
  EXPECT_EQ(ids("/api/items?_limit=3"), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(api().get("/api/items?_limit=3").header("X-Total-Count").value_or(""), "25");
}

TEST_P(WeftServe, UnpagedListsAreCappedWithALinkToTheRest) {
  start({"--max-list", "10"});
  for (int i = 0; i < 12; ++i) ASSERT_EQ(api().post("/api/items", "{}").status, 201);
  auto r = api().get("/api/items");
  EXPECT_EQ(body(r).size(), 10u);
  EXPECT_EQ(r.header("X-Total-Count").value_or(""), "12");
  EXPECT_NE(r.header("Link").value_or("").find("_start=10&_limit=10>; rel=\"next\""),
            std::string::npos);
  EXPECT_EQ(ids("/api/items?_start=10&_limit=10"), (std::vector<int>{11, 12}));
}

TEST_P(WeftServe, BadRequestsGetClearErrors) {
  start({"--max-body", "1000"});
  auto bad = api().post("/api/x", R"({"a": 1,,})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(body(bad)["error"].get<std::string>().find("invalid JSON at byte 9"), std::string::npos)
      << bad.body;
  EXPECT_EQ(api().post("/api/x", "[1, 2]").status, 400);
  EXPECT_EQ(api().post("/api/x", "").status, 400);
  EXPECT_EQ(api().request("POST", "/api/x", "{}", "text/plain")->status, 415);
  EXPECT_EQ(api().post("/api/x", "{\"big\": \"" + std::string(2000, 'x') + "\"}").status, 413);
  EXPECT_EQ(api().post("/api/bad%20name", "{}").status, 400);
  EXPECT_EQ(api().get("/api/nothing").status, 404);
  EXPECT_EQ(api().get("/api/nothing/1").status, 404);
  EXPECT_EQ(api().send("PUT", "/api/nothing/1", "{}").status, 404);
  ASSERT_EQ(api().post("/api/x", "{}").status, 201);
  auto missing = api().get("/api/x/99");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(body(missing)["error"], "no item with id '99' in 'x'");
  EXPECT_EQ(api().get("/api/x?_bogus=1").status, 400);
  EXPECT_EQ(api().get("/api/x?_page=0").status, 400);
  EXPECT_EQ(api().get("/api/x?_limit=-1").status, 400);
  EXPECT_EQ(api().get("/api/x?bad%20field=1").status, 400);
  EXPECT_EQ(api().send("PUT", "/api/x").status, 405);  // no PUT on a collection
  EXPECT_EQ(ids("/api/x"), std::vector<int>{1});       // nothing else was written
}

TEST_P(WeftServe, ReadOnlyRefusesWrites) {
  start_seeded();
  restart({"--read-only"});
  for (const char* method : {"PUT", "PATCH", "DELETE"}) {
    auto r = api().send(method, "/api/posts/1", "{}");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.header("Allow").value_or(""), "GET, HEAD");
  }
  EXPECT_EQ(api().post("/api/posts", "{}").status, 405);
  EXPECT_EQ(api().get("/api/posts/1").status, 200);
  EXPECT_EQ(ids("/api/posts").size(), 4u);
}

TEST_P(WeftServe, RestartKeepsTheData) {
  start();
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(api().post("/api/keep", R"({"v": )" + std::to_string(i) + "}").status, 201);
  ASSERT_EQ(api().send("PATCH", "/api/keep/3", R"({"v": "patched"})").status, 200);
  restart();
  EXPECT_EQ(ids("/api/keep").size(), 20u);
  EXPECT_EQ(body(api().get("/api/keep/3"))["v"], "patched");
}

// SIGTERM while writes are in flight on several connections: every write acknowledged
// with 201 is there after a restart; the server exits 0.
TEST_P(WeftServe, GracefulStopLosesNoAcknowledgedWrite) {
  start();
  std::atomic<bool> go{true};
  std::mutex mu;
  std::vector<int> acked;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, port = server_.port()] {
      ApiClient c(port);
      while (go) {
        auto r = c.request("POST", "/api/acks", R"({"w": 1})");
        if (!r || r->status != 201) break;
        std::lock_guard lock(mu);
        acked.push_back(json::parse(r->body)["id"].get<int>());
      }
    });
  }
  while (true) {
    std::this_thread::sleep_for(20ms);
    std::lock_guard lock(mu);
    if (acked.size() >= 40) break;
  }
  EXPECT_EQ(server_.stop(SIGTERM), 0) << server_.output();
  go = false;
  for (auto& t : writers) t.join();
  EXPECT_NE(server_.output().find("stopped"), std::string::npos);
  start();
  auto stored = ids("/api/acks?_limit=100000");
  std::set<int> have(stored.begin(), stored.end());
  for (int id : acked) EXPECT_TRUE(have.count(id)) << "acknowledged id " << id << " lost";
}

// Four loops, each with its own listener and database handle: concurrent writers on
// several connections get distinct ids, every write is visible from every loop, and the
// whole process stops cleanly.
TEST_P(WeftServe, ManyLoopsShareOneDatabase) {
  start({"--workers", "4"});
  EXPECT_NE(server_.output().find("loops: 4"), std::string::npos) << server_.output();
  // A new connection each time: spread over the loops.
  const std::vector<int> acked = post_concurrently({server_.port()}, "/api/multi", true);
  ASSERT_EQ(acked.size(), 200u);
  EXPECT_EQ(std::set<int>(acked.begin(), acked.end()).size(), 200u);  // no id given twice
  for (int i = 0; i < 8; ++i) {
    ApiClient c(server_.port());
    EXPECT_EQ(c.get("/api/multi?_limit=1").header("X-Total-Count").value_or(""), "200");
  }
}

// Two weft-serve processes on one database (SQLite: one file; PostgreSQL: one schema),
// both writing to a collection neither has seen: ids stay distinct and nothing is lost,
// whichever process creates the collection and however their auto-ids race.
TEST_P(WeftServe, TwoProcessesShareOneDatabase) {
  start({"--workers", "1"});
  ServeProcess twin;
  ASSERT_TRUE(twin.start({"--db", db_url_, "--workers", "1"}, dir_.path())) << twin.output();
  const std::vector<int> acked =
      post_concurrently({server_.port(), twin.port()}, "/api/twin", false);
  ASSERT_EQ(acked.size(), 200u);
  EXPECT_EQ(std::set<int>(acked.begin(), acked.end()).size(), 200u);  // no id given twice
  EXPECT_EQ(api().get("/api/twin?_limit=1").header("X-Total-Count").value_or(""), "200");
  EXPECT_EQ(ApiClient(twin.port()).get("/api/twin?_limit=1").header("X-Total-Count").value_or(""),
            "200");
  EXPECT_EQ(twin.stop(SIGTERM), 0) << twin.output();
}

TEST_P(WeftServe, CorsHeadersAndPreflight) {
  start();
  auto r = api().get("/api");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin").value_or(""), "*");
  auto pre = api().send("OPTIONS", "/api/items/1");
  EXPECT_EQ(pre.status, 204);
  EXPECT_NE(pre.header("Access-Control-Allow-Methods").value_or("").find("PATCH"),
            std::string::npos);
  restart({"--no-cors"});
  EXPECT_FALSE(api().get("/api").header("Access-Control-Allow-Origin").has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, WeftServe, ::testing::ValuesIn(backends()),
                         [](const auto& param_info) {
                           return std::string(to_string(param_info.param));
                         });

}  // namespace
}  // namespace weft::serve_test
