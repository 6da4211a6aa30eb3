// Helpers shared by the db tests.
#pragma once

#include <weft/db/database.hpp>
#include <weft/db/migrate.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace weft::db::testing {

// A fresh directory under /tmp, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/weft-db-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string url(const std::string& name = "test.db") const { return "sqlite:" + file(name); }

 private:
  std::string path_;
};

// Runs a coroutine to completion on the loop (the loop is run until it finishes).
template <class T>
T run(Loop& loop, Task<T> task) {
  return weft::run_until_complete(loop, std::move(task));
}

// Runs the loop until nothing is left (e.g. after a Database was destroyed).
inline void drain(Loop& loop) { loop.run(); }

}  // namespace weft::db::testing
