// weft-serve as a program: flags, help, defaults, static files, start-up failures, and a
// write that fails inside the database (nothing half-written).
#include "app/serve_process.hpp"

#include <weft/db/database.hpp>
#include <weft/task.hpp>

#include <gtest/gtest.h>

#include <filesystem>

namespace weft::serve_test {
namespace {

TEST(WeftServeCli, HelpListsEveryFlag) {
  TempDir dir;
  ServeProcess p;
  ASSERT_TRUE(p.start({"--help"}, dir.path(), false));
  EXPECT_EQ(p.wait_exit(), 0);
  for (const char* flag : {"--host", "--port", "--root", "--db", "--seed", "--read-only",
                           "--max-body", "--headers-timeout", "--request-timeout",
                           "--keep-alive-timeout", "--max-connections", "--synchronous"}) {
    EXPECT_NE(p.output().find(flag), std::string::npos) << flag;
  }
}

TEST(WeftServeCli, BadFlagsExitWithStatus2AndSayWhy) {
  TempDir dir;
  for (std::vector<std::string> args : {std::vector<std::string>{"--bogus"},
                                        {"--synchronous", "sometimes"},
                                        {"--max-body", "x"},
                                        {"--db"}}) {
    ServeProcess p;
    ASSERT_TRUE(p.start(args, dir.path(), false));
    EXPECT_EQ(p.wait_exit(), 2) << args[0];
    EXPECT_NE(p.output().find(args[0]), std::string::npos) << p.output();
  }
}

TEST(WeftServeCli, DefaultsCreateTheDataDirectoryAndServeTheBundledSite) {
  TempDir dir;
  ServeProcess p;
  ASSERT_TRUE(p.start({}, dir.path())) << p.output();
  EXPECT_TRUE(std::filesystem::exists(dir.file("weft-data/weft.db")));
  ApiClient api(p.port());
  auto page = api.get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.header("Content-Type").value_or("").find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("/api"), std::string::npos);
  EXPECT_EQ(api.get("/api").body, "{}");
  EXPECT_EQ(p.stop(SIGINT), 0) << p.output();
}

TEST(WeftServeCli, RootServesStaticFilesBesideTheApi) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("public"));
  dir.write("public/hello.txt", "hi there\n");
  ServeProcess p;
  ASSERT_TRUE(p.start({"--root", dir.file("public"), "--db", "sqlite::memory:"}, dir.path()));
  ApiClient api(p.port());
  auto r = api.get("/hello.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi there\n");
  EXPECT_EQ(api.get("/nope.txt").status, 404);
  EXPECT_EQ(api.get("/api").status, 200);
  EXPECT_EQ(api.get("/api/x/y/z").status, 404);
  EXPECT_EQ(p.stop(SIGTERM), 0);
}

TEST(WeftServeCli, UnusableDatabaseFailsAtStart) {
  TempDir dir;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--db", "mysql://x"}, {"--db", "sqlite:/proc/no/such/dir/x.db"}}) {
    ServeProcess p;
    ASSERT_TRUE(p.start(args, dir.path(), false));
    EXPECT_EQ(p.wait_exit(), 1) << p.output();
    EXPECT_NE(p.output().find("cannot open the database"), std::string::npos) << p.output();
  }
}

TEST(WeftServeCli, ListenFailureIsReported) {
  TempDir dir;
  ServeProcess first;
  ASSERT_TRUE(first.start({"--db", "sqlite::memory:"}, dir.path()));
  ServeProcess second;
  // --port after the harness's --port 0 wins.
  ASSERT_TRUE(second.start({"--db", "sqlite::memory:", "--port", std::to_string(first.port())},
                           dir.path(), false));
  EXPECT_EQ(second.wait_exit(), 1);
  EXPECT_NE(second.output().find("cannot listen"), std::string::npos) << second.output();
  EXPECT_EQ(first.stop(SIGTERM), 0);
}

// A trigger makes some inserts fail inside the database: the client gets a 500, the error
// details stay in the log, and nothing of the failed write is visible — not even the new
// collection its transaction created first.
TEST(WeftServeCli, FailedWriteLeavesNothingHalfWritten) {
  TempDir dir;
  const std::string url = "sqlite:" + dir.file("weft.db");
  {
    ServeProcess p;  // creates the schema
    ASSERT_TRUE(p.start({"--db", url}, dir.path()));
    ApiClient api(p.port());
    ASSERT_EQ(api.post("/api/existing", R"({"ok": 1})").status, 201);
    ASSERT_EQ(p.stop(SIGTERM), 0);
  }
  {
    Loop loop;
    auto db = db::open(loop, url);
    run_until_complete(loop, [&]() -> Task<void> {
      co_await db->exec(
          "CREATE TRIGGER fail_on_request BEFORE INSERT ON weft_documents"
          " WHEN json_extract(NEW.doc, '$.fail') = 1"
          " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
      co_await db->close();
    }());
    db.reset();
  }
  ServeProcess p;
  ASSERT_TRUE(p.start({"--db", url}, dir.path()));
  ApiClient api(p.port());
  auto fresh = api.post("/api/fresh", R"({"fail": 1})");
  EXPECT_EQ(fresh.status, 500) << fresh.body;
  EXPECT_EQ(fresh.body.find("injected"), std::string::npos);     // details are not sent
  EXPECT_TRUE(p.wait_output("injected failure")) << p.output();  // but they are logged
  EXPECT_EQ(api.get("/api/fresh").status, 404);
  EXPECT_EQ(api.post("/api/existing", R"({"fail": 1})").status, 500);
  EXPECT_EQ(api.get("/api/existing").header("X-Total-Count").value_or(""), "1");
  EXPECT_EQ(api.post("/api/existing", R"({"fail": 0})").status, 201);  // the writer goes on
  EXPECT_EQ(p.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace weft::serve_test
