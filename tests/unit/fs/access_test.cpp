// EACCES. Root bypasses permission checks on files, so as root each case runs in a
// forked child that drops to nobody (65534) and reports through its exit status.
#include "fs_test_util.hpp"

#include <grp.h>
#include <sys/wait.h>

namespace weft::fs::testing {
namespace {

using std::errc;

constexpr uid_t kNobody = 65534;

// The checks, on a fresh loop; returns the number of failed expectations (0: passed).
// Runs in the child when forked, so it reports by count and message rather than gtest.
int check_permission_errors(const std::string& dir) {
  Loop loop;
  int failures = 0;
  auto expect = [&](const char* what, auto make, const std::string& path) {
    try {
      run_until_complete(loop, [&]() -> Task<void> { co_await make(); }());
      std::fprintf(stderr, "%s: succeeded, expected EACCES\n", what);
      ++failures;
    } catch (const Error& e) {
      if (!(e.code() == errc::permission_denied) || e.path() != path) {
        std::fprintf(stderr, "%s: %s, expected EACCES for %s\n", what, e.what(), path.c_str());
        ++failures;
      }
    }
  };
  std::string secret = dir + "/secret", locked = dir + "/locked", ro = dir + "/ro";
  expect(
      "read_file", [&] { return read_file(loop, secret); }, secret);
  expect(
      "open for write", [&] { return open(loop, secret, OpenFlags::write); }, secret);
  expect(
      "write_file", [&] { return write_file(loop, secret, "x"); }, secret);
  expect(
      "readdir", [&] { return readdir(loop, locked); }, locked);
  expect(
      "stat through", [&] { return stat(loop, locked + "/f"); }, locked + "/f");
  expect(
      "mkdir", [&] { return mkdir(loop, ro + "/new"); }, ro + "/new");
  expect(
      "mkdir -p", [&] { return mkdir(loop, ro + "/a/b", {.recursive = true}); }, ro + "/a");
  expect(
      "unlink", [&] { return unlink(loop, ro + "/f"); }, ro + "/f");
  expect(
      "rename", [&] { return rename(loop, ro + "/f", ro + "/g"); }, ro + "/f");
  expect(
      "atomic write", [&] { return write_file(loop, ro + "/f", "x", {.atomic = true}); },
      ro + "/f");
  expect(
      "remove_all", [&] { return remove_all(loop, ro + "/sub"); }, ro + "/sub/f");
  if (loop.close()) ++failures;
  return failures;
}

class FsAccess : public FsTest {};

TEST_F(FsAccess, PermissionDeniedIsReportedWithThePath) {
  // secret: a file nobody may read or write; locked: a directory nobody may list or
  // enter; ro: a directory nobody may change (with a file and a subdirectory inside).
  put(p("secret"), "s");
  ASSERT_EQ(::chmod(p("secret").c_str(), 0000), 0);
  ASSERT_EQ(::mkdir(p("locked").c_str(), 0000), 0);
  ASSERT_EQ(::mkdir(p("ro").c_str(), 0755), 0);
  put(p("ro/f"), "keep");
  ASSERT_EQ(::mkdir(p("ro/sub").c_str(), 0555), 0);
  put(p("ro/sub/f"), "keep");
  ASSERT_EQ(::chmod(p("ro/sub").c_str(), 0555), 0);
  ASSERT_EQ(::chmod(p("ro").c_str(), 0555), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);  // mkdtemp made it 0700

  if (::geteuid() != 0) {
    EXPECT_EQ(check_permission_errors(dir), 0);
  } else {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
          ::setresuid(kNobody, kNobody, kNobody) != 0) {
        std::perror("dropping privileges");
        ::_exit(100);
      }
      ::_exit(std::min(check_permission_errors(dir), 99));
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child died: status " << status;
    ASSERT_NE(WEXITSTATUS(status), 100) << "could not drop privileges";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "failed EACCES checks (see stderr)";
  }
  EXPECT_EQ(slurp(p("ro/f")), "keep");
  EXPECT_EQ(slurp(p("ro/sub/f")), "keep");
}

}  // namespace
}  // namespace weft::fs::testing
