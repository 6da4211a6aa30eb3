// Operations on paths: each one's success path and its errors.
#include "fs_test_util.hpp"

#include <algorithm>
#include <chrono>

namespace weft::fs::testing {
namespace {

using std::errc;

class FsOps : public FsTest {};

TEST_F(FsOps, StatDescribesARegularFile) {
  put(p("f"), "hello");
  ::chmod(p("f").c_str(), 0640);
  Stat s = run(stat(*loop, p("f")));
  struct ::stat native {};
  ASSERT_EQ(::stat(p("f").c_str(), &native), 0);
  EXPECT_EQ(s.type, FileType::regular);
  EXPECT_TRUE(s.is_regular());
  EXPECT_EQ(s.size, 5u);
  EXPECT_EQ(s.permissions(), 0640u);
  EXPECT_EQ(s.ino, native.st_ino);
  EXPECT_EQ(s.dev, native.st_dev);
  EXPECT_EQ(s.nlink, 1u);
  EXPECT_EQ(s.uid, ::geteuid());
  EXPECT_EQ(s.gid, native.st_gid);
  auto age = std::chrono::system_clock::now() - s.mtime;
  EXPECT_LT(std::chrono::abs(age), std::chrono::minutes(1));
}

TEST_F(FsOps, StatFollowsSymlinksAndLstatDoesNot) {
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("d", p("link").c_str()), 0);
  EXPECT_EQ(run(stat(*loop, p("link"))).type, FileType::directory);
  EXPECT_EQ(run(lstat(*loop, p("link"))).type, FileType::symlink);
  // The current-loop form.
  EXPECT_TRUE(run([&]() -> Task<Stat> { co_return co_await lstat(p("d")); }()).is_directory());
}

TEST_F(FsOps, StatErrors) {
  put(p("file"), "x");
  expect_error([&] { return stat(*loop, p("missing")); }, errc::no_such_file_or_directory,
               p("missing"), "stat");
  expect_error([&] { return stat(*loop, p("file/x")); }, errc::not_a_directory, p("file/x"),
               "stat");
  expect_error([&] { return lstat(*loop, p("missing")); }, errc::no_such_file_or_directory,
               p("missing"), "lstat");
  ASSERT_EQ(::symlink("nowhere", p("dangling").c_str()), 0);
  expect_error([&] { return stat(*loop, p("dangling")); }, errc::no_such_file_or_directory,
               p("dangling"), "stat");
  EXPECT_EQ(run(lstat(*loop, p("dangling"))).type, FileType::symlink);
}

TEST_F(FsOps, ErrorsNameTheCallThePathAndTheErrno) {
  std::optional<Error> e = error_of([&] { return read_file(*loop, p("x/y")); });
  ASSERT_TRUE(e);
  EXPECT_EQ(std::string(e->what()), "open '" + p("x/y") + "': No such file or directory");
  EXPECT_EQ(e->code().value(), ENOENT);
  EXPECT_EQ(e->code().category(), std::system_category());
  const std::system_error& base = *e;  // catchable as std::system_error
  EXPECT_EQ(base.code(), e->code());

  std::optional<Error> r = error_of([&] { return rename(*loop, p("a"), p("b")); });
  ASSERT_TRUE(r);
  EXPECT_EQ(std::string(r->what()),
            "rename '" + p("a") + "' -> '" + p("b") + "': No such file or directory");
  EXPECT_EQ(r->path(), p("a"));
  EXPECT_EQ(r->dest(), p("b"));
}

TEST_F(FsOps, ReaddirListsEntriesWithTheirTypes) {
  put(p("file"), "x");
  ASSERT_EQ(::mkdir(p("sub").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("file", p("link").c_str()), 0);
  ASSERT_EQ(::mkfifo(p("fifo").c_str(), 0644), 0);
  std::vector<DirEntry> entries = run(readdir(*loop, dir));
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  std::vector<DirEntry> expected{{"fifo", FileType::fifo},
                                 {"file", FileType::regular},
                                 {"link", FileType::symlink},
                                 {"sub", FileType::directory}};
  EXPECT_EQ(entries, expected);
  EXPECT_TRUE(run(readdir(*loop, p("sub"))).empty());
}

TEST_F(FsOps, ReaddirErrors) {
  put(p("file"), "x");
  expect_error([&] { return readdir(*loop, p("missing")); }, errc::no_such_file_or_directory,
               p("missing"), "opendir");
  expect_error([&] { return readdir(*loop, p("file")); }, errc::not_a_directory, p("file"),
               "opendir");
}

TEST_F(FsOps, MkdirCreatesOneDirectory) {
  ::mode_t old_mask = ::umask(022);
  run(mkdir(*loop, p("d"), {.mode = 0750}));
  ::umask(old_mask);
  struct ::stat st {};
  ASSERT_EQ(::stat(p("d").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0750u);
}

TEST_F(FsOps, MkdirErrors) {
  put(p("file"), "x");
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  expect_error([&] { return mkdir(*loop, p("d")); }, errc::file_exists, p("d"), "mkdir");
  expect_error([&] { return mkdir(*loop, p("a/b")); }, errc::no_such_file_or_directory, p("a/b"),
               "mkdir");
  expect_error([&] { return mkdir(*loop, p("file/x")); }, errc::not_a_directory, p("file/x"),
               "mkdir");
}

TEST_F(FsOps, MkdirRecursiveCreatesTheMissingParents) {
  run(mkdir(*loop, p("a/b/c/"), {.recursive = true}));
  EXPECT_TRUE(std::filesystem::is_directory(p("a/b/c")));
  run(mkdir(*loop, p("a/b/c"), {.recursive = true}));  // existing: not an error
  run(mkdir(*loop, p("a/x/../y"), {.recursive = true}));
  EXPECT_TRUE(std::filesystem::is_directory(p("a/y")));
  run(mkdir(*loop, dir, {.recursive = true}));
}

TEST_F(FsOps, MkdirRecursiveErrors) {
  put(p("file"), "x");
  expect_error([&] { return mkdir(*loop, p("file"), {.recursive = true}); }, errc::file_exists,
               p("file"), "mkdir");
  expect_error([&] { return mkdir(*loop, p("file/a/b"), {.recursive = true}); },
               errc::not_a_directory, p("file/a/b"), "mkdir");
}

TEST_F(FsOps, RenameMovesAndReplaces) {
  put(p("a"), "A");
  put(p("b"), "B");
  run(rename(*loop, p("a"), p("b")));
  EXPECT_FALSE(exists(p("a")));
  EXPECT_EQ(slurp(p("b")), "A");
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  run(rename(*loop, p("d"), p("e")));
  EXPECT_TRUE(std::filesystem::is_directory(p("e")));
}

TEST_F(FsOps, RenameErrors) {
  put(p("file"), "x");
  ASSERT_EQ(::mkdir(p("full").c_str(), 0755), 0);
  put(p("full/inside"), "y");
  ASSERT_EQ(::mkdir(p("empty").c_str(), 0755), 0);
  expect_error([&] { return rename(*loop, p("missing"), p("z")); }, errc::no_such_file_or_directory,
               p("missing"), "rename");
  expect_error([&] { return rename(*loop, p("file"), p("full")); }, errc::is_a_directory, p("file"),
               "rename");
  expect_error([&] { return rename(*loop, p("empty"), p("full")); }, errc::directory_not_empty,
               p("empty"), "rename");
  expect_error([&] { return rename(*loop, p("file/x"), p("z")); }, errc::not_a_directory,
               p("file/x"), "rename");
  EXPECT_EQ(slurp(p("file")), "x");
}

TEST_F(FsOps, UnlinkRemovesAFile) {
  put(p("f"), "x");
  ASSERT_EQ(::symlink("f", p("link").c_str()), 0);
  run(unlink(*loop, p("link")));  // the link, not its target
  EXPECT_TRUE(exists(p("f")));
  run(unlink(*loop, p("f")));
  EXPECT_FALSE(exists(p("f")));
}

TEST_F(FsOps, UnlinkErrors) {
  put(p("file"), "x");
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  expect_error([&] { return unlink(*loop, p("missing")); }, errc::no_such_file_or_directory,
               p("missing"), "unlink");
  expect_error([&] { return unlink(*loop, p("d")); }, errc::is_a_directory, p("d"), "unlink");
  expect_error([&] { return unlink(*loop, p("file/x")); }, errc::not_a_directory, p("file/x"),
               "unlink");
}

TEST_F(FsOps, RmdirRemovesAnEmptyDirectory) {
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  run(rmdir(*loop, p("d")));
  EXPECT_FALSE(exists(p("d")));
}

TEST_F(FsOps, RmdirErrors) {
  put(p("file"), "x");
  ASSERT_EQ(::mkdir(p("full").c_str(), 0755), 0);
  put(p("full/f"), "x");
  expect_error([&] { return rmdir(*loop, p("missing")); }, errc::no_such_file_or_directory,
               p("missing"), "rmdir");
  expect_error([&] { return rmdir(*loop, p("full")); }, errc::directory_not_empty, p("full"),
               "rmdir");
  expect_error([&] { return rmdir(*loop, p("file")); }, errc::not_a_directory, p("file"), "rmdir");
}

TEST_F(FsOps, RemoveAllRemovesATreeWithoutFollowingLinks) {
  ASSERT_EQ(::mkdir(p("outside").c_str(), 0755), 0);
  put(p("outside/keep"), "k");
  ASSERT_EQ(::mkdir(p("t").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(p("t/a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(p("t/a/b").c_str(), 0755), 0);
  put(p("t/f1"), "1");
  put(p("t/a/f2"), "2");
  put(p("t/a/b/f3"), "3");
  ASSERT_EQ(::symlink(p("outside").c_str(), p("t/a/out").c_str()), 0);
  // t, a, b, f1, f2, f3, out
  EXPECT_EQ(run(remove_all(*loop, p("t"))), 7u);
  EXPECT_FALSE(exists(p("t")));
  EXPECT_EQ(slurp(p("outside/keep")), "k");
  EXPECT_EQ(run(remove_all(*loop, p("missing"))), 0u);
  put(p("single"), "x");
  EXPECT_EQ(run(remove_all(*loop, p("single"))), 1u);
}

TEST_F(FsOps, RemoveAllErrors) {
  put(p("file"), "x");
  expect_error([&] { return remove_all(*loop, p("file/x")); }, errc::not_a_directory, p("file/x"),
               "lstat");
}

TEST_F(FsOps, RealpathResolvesLinksAndDots) {
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  put(p("d/f"), "x");
  ASSERT_EQ(::symlink("d", p("link").c_str()), 0);
  std::string canonical = std::filesystem::canonical(p("d/f")).string();
  EXPECT_EQ(run(realpath(*loop, p("link/./../d/../link/f"))), canonical);
}

TEST_F(FsOps, RealpathErrors) {
  put(p("file"), "x");
  ASSERT_EQ(::symlink("loop", p("loop").c_str()), 0);
  expect_error([&] { return realpath(*loop, p("missing")); }, errc::no_such_file_or_directory,
               p("missing"), "realpath");
  expect_error([&] { return realpath(*loop, p("file/x")); }, errc::not_a_directory, p("file/x"),
               "realpath");
  expect_error([&] { return realpath(*loop, p("loop")); }, errc::too_many_symbolic_link_levels,
               p("loop"), "realpath");
}

TEST_F(FsOps, ReadFileReadsTheWholeFile) {
  put(p("small"), "hello\n");
  put(p("empty"), "");
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 % 251);
  put(p("big"), big);
  EXPECT_EQ(run(read_file(*loop, p("small"))), "hello\n");
  EXPECT_EQ(run(read_file(*loop, p("empty"))), "");
  EXPECT_EQ(run(read_file(*loop, p("big"))), big);
  // st_size is 0 for /proc files: read to the end anyway.
  EXPECT_NE(run(read_file(*loop, "/proc/self/status")).find("Pid:"), std::string::npos);
}

TEST_F(FsOps, ReadFileErrors) {
  put(p("file"), "x");
  ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
  expect_error([&] { return read_file(*loop, p("missing")); }, errc::no_such_file_or_directory,
               p("missing"), "open");
  expect_error([&] { return read_file(*loop, p("d")); }, errc::is_a_directory, p("d"), "read");
  expect_error([&] { return read_file(*loop, p("file/x")); }, errc::not_a_directory, p("file/x"),
               "open");
}

}  // namespace
}  // namespace weft::fs::testing
