// Shared fixture of the fs tests: a fresh temporary directory and a loop per test.
#pragma once

#include <weft/async.hpp>
#include <weft/fs.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>

#include "support/loop_testing.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace weft::fs::testing {

// Synchronous helpers for arranging and checking (test thread, not the loop).
inline void put(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool exists(const std::string& path) {
  struct ::stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

inline std::size_t count_open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Makes everything below `root` writable and searchable again, so that cleanup works
// after a test changed permissions.
inline void restore_permissions(const std::string& root) {
  std::error_code ec;
  std::filesystem::permissions(root, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add, ec);
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_symlink()) {
      std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::add, ec);
    }
  }
}

// Starts a task without giving it away: it runs to its first suspension; the caller may
// then destroy it mid-operation.
template <class T>
void start(Task<T>& task) {
  task.operator co_await().await_suspend(std::noop_coroutine()).resume();
}

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weft-fs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir = tmpl;
  }
  void TearDown() override {
    // Every loop test ends here: nothing may be left open.
    weft::testing::expect_clean_close(*loop);
    restore_permissions(dir);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::string p(const std::string& name) const { return dir + "/" + name; }

  template <class T>
  T run(Task<T> task) {
    return run_until_complete(*loop, std::move(task));
  }

  template <class T>
  T run(Op<T> op) {
    return run(await_op(std::move(op)));
  }
  template <class T>
  static Task<T> await_op(Op<T> op) {
    co_return co_await op;
  }

  // Runs the operation `make()` returns; its fs::Error, or nullopt if it succeeded.
  template <class Make>
  std::optional<Error> error_of(Make make) {
    return run([&]() -> Task<std::optional<Error>> {
      try {
        co_await make();
      } catch (const Error& e) {
        co_return e;
      }
      co_return std::nullopt;
    }());
  }

  // Expects the operation to fail with `code`, about `path`, from the call `op`.
  template <class Make>
  void expect_error(Make make, std::errc code, const std::string& path, const char* op) {
    std::optional<Error> e = error_of(make);
    ASSERT_TRUE(e.has_value()) << "expected " << std::make_error_code(code).message() << " for "
                               << path;
    EXPECT_TRUE(e->code() == code) << e->what();
    EXPECT_EQ(e->code().category(), std::system_category()) << e->what();
    EXPECT_EQ(e->path(), path) << e->what();
    EXPECT_STREQ(e->op(), op) << e->what();
  }

  std::string dir;
  std::unique_ptr<Loop> loop = std::make_unique<Loop>();
};

}  // namespace weft::fs::testing
