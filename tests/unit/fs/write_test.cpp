// write_file (plain and atomic) and append_file.
#include "fs_test_util.hpp"

#include <algorithm>
#include <filesystem>

namespace weft::fs::testing {
namespace {

using std::errc;

class FsWrite : public FsTest {
 protected:
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(FsWrite, CreatesAndTruncates) {
  ::mode_t old_mask = ::umask(022);
  run(write_file(*loop, p("f"), "first version", {.mode = 0640}));
  ::umask(old_mask);
  EXPECT_EQ(slurp(p("f")), "first version");
  EXPECT_EQ(std::filesystem::status(p("f")).permissions(), std::filesystem::perms(0640));
  run(write_file(*loop, p("f"), "second", {.fsync = true}));
  EXPECT_EQ(slurp(p("f")), "second");
  run([&]() -> Task<void> { co_await write_file(p("empty"), ""); }());  // current loop
  EXPECT_TRUE(exists(p("empty")));
}

TEST_F(FsWrite, PlainErrors) {
  put(p("file"), "x");
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  expect_error([&] { return write_file(*loop, p("missing/f"), "x"); },
               errc::no_such_file_or_directory, p("missing/f"), "open");
  expect_error([&] { return write_file(*loop, p("d"), "x"); }, errc::is_a_directory, p("d"),
               "open");
  expect_error([&] { return write_file(*loop, p("file/f"), "x"); }, errc::not_a_directory,
               p("file/f"), "open");
}

TEST_F(FsWrite, AtomicReplacesTheFileAndKeepsItsMode) {
  put(p("f"), "old");
  ASSERT_EQ(::chmod(p("f").c_str(), 0604), 0);
  struct ::stat before {};
  ASSERT_EQ(::stat(p("f").c_str(), &before), 0);
  run(write_file(*loop, p("f"), "new content", {.atomic = true}));
  struct ::stat after {};
  ASSERT_EQ(::stat(p("f").c_str(), &after), 0);
  EXPECT_EQ(slurp(p("f")), "new content");
  EXPECT_NE(before.st_ino, after.st_ino);  // a new file was renamed over the old one
  EXPECT_EQ(after.st_mode & 07777, 0604u);
  EXPECT_EQ(names(), std::vector<std::string>{"f"});  // no temporary file left
  run(write_file(*loop, p("fresh"), "x", {.atomic = true}));
  EXPECT_EQ(slurp(p("fresh")), "x");
}

TEST_F(FsWrite, AtomicWithARelativePath) {
  std::string cwd = std::filesystem::current_path();
  ASSERT_EQ(::chdir(dir.c_str()), 0);
  run(write_file(*loop, "rel", "relative", {.atomic = true}));
  ASSERT_EQ(::chdir(cwd.c_str()), 0);
  EXPECT_EQ(slurp(p("rel")), "relative");
  EXPECT_EQ(names(), std::vector<std::string>{"rel"});
}

// A failing rename leaves the target as it was and removes the temporary file.
TEST_F(FsWrite, AtomicFailureLeavesTheTargetUntouched) {
  ASSERT_EQ(::mkdir(p("target").c_str(), 0755), 0);
  put(p("target/inside"), "old");
  expect_error([&] { return write_file(*loop, p("target"), "new", {.atomic = true}); },
               errc::is_a_directory, p("target"), "rename");
  EXPECT_EQ(slurp(p("target/inside")), "old");
  EXPECT_EQ(names(), std::vector<std::string>{"target"});
}

TEST_F(FsWrite, AtomicErrors) {
  put(p("file"), "x");
  expect_error([&] { return write_file(*loop, p("missing/f"), "x", {.atomic = true}); },
               errc::no_such_file_or_directory, p("missing/f"), "open");
  expect_error([&] { return write_file(*loop, p("file/f"), "x", {.atomic = true}); },
               errc::not_a_directory, p("file/f"), "open");
  expect_error([&] { return write_file(*loop, p("dir/"), "x", {.atomic = true}); },
               errc::is_a_directory, p("dir/"), "open");
  EXPECT_EQ(names(), std::vector<std::string>{"file"});
}

// Concurrent atomic writers: the result is one of them, whole; no temporary file stays.
TEST_F(FsWrite, ConcurrentAtomicWritesNeverMix) {
  int done = 0;
  for (int i = 0; i < 32; ++i) {
    write_file(*loop, p("f"), std::string(10000, static_cast<char>('a' + i % 26)), {.atomic = true},
               [&](Outcome<void>& r) {
                 EXPECT_TRUE(r.ok()) << r.error().message();
                 ++done;
               });
  }
  loop->run();
  EXPECT_EQ(done, 32);
  std::string content = slurp(p("f"));
  ASSERT_EQ(content.size(), 10000u);
  EXPECT_EQ(std::count(content.begin(), content.end(), content[0]), 10000);
  EXPECT_EQ(names(), std::vector<std::string>{"f"});
}

TEST_F(FsWrite, AppendCreatesAndAppends) {
  run(append_file(*loop, p("log"), "one\n"));
  run(append_file(*loop, p("log"), "two\n"));
  EXPECT_EQ(slurp(p("log")), "one\ntwo\n");
}

TEST_F(FsWrite, AppendErrors) {
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  expect_error([&] { return append_file(*loop, p("missing/log"), "x"); },
               errc::no_such_file_or_directory, p("missing/log"), "open");
  expect_error([&] { return append_file(*loop, p("d"), "x"); }, errc::is_a_directory, p("d"),
               "open");
}

}  // namespace
}  // namespace weft::fs::testing
