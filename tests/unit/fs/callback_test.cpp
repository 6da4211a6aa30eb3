// The callback form (thread, timing, errors, cancellation, refusal) and the lifetime of
// coroutines destroyed while their operation is queued or running.
#include "fs_test_util.hpp"

#include <atomic>
#include <future>
#include <thread>
#include <type_traits>

namespace weft::fs::testing {
namespace {

using std::errc;
using namespace std::chrono_literals;

class FsCallback : public FsTest {
 protected:
  // A loop on a runtime with one I/O thread, kept busy by a blocker until release().
  void use_single_thread_runtime(std::size_t max_queued = 65536) {
    rt = std::make_shared<Runtime>(PoolOptions{.io_threads = 1, .max_queued = max_queued});
    loop = std::make_unique<Loop>(LoopOptions{.runtime = rt});
  }
  void occupy_the_pool() {
    auto released = gate.get_future().share();
    ASSERT_FALSE(queue_work(
        *loop, WorkClass::fs,
        [released, this] {
          started = true;
          released.wait();
        },
        [](Result<void>&) {}));
    wait_until([&] { return started.load(); });
  }
  void release() { gate.set_value(); }
  // Runs the loop without blocking until pred() holds (pool jobs start once it polls).
  template <class Pred>
  void wait_until(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!pred()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline);
      loop->run(RunMode::nowait);
      std::this_thread::sleep_for(1ms);
    }
  }

  std::shared_ptr<Runtime> rt;
  std::promise<void> gate;
  std::atomic<bool> started{false};
};

TEST_F(FsCallback, RunsOnTheLoopThreadNeverInsideTheCall) {
  put(p("f"), "abc");
  bool returned = false;
  int calls = 0;
  stat(*loop, p("f"), [&](Outcome<Stat>& r) {
    EXPECT_TRUE(returned);
    EXPECT_TRUE(loop->on_loop_thread());
    EXPECT_EQ(Loop::current(), loop.get());
    EXPECT_EQ(r->size, 3u);
    ++calls;
  });
  stat(*loop, p("missing"), [&](Outcome<Stat>& r) {
    EXPECT_TRUE(returned);
    EXPECT_TRUE(loop->on_loop_thread());
    EXPECT_FALSE(r.ok());
    ++calls;
  });
  returned = true;
  loop->run();
  EXPECT_EQ(calls, 2);
}

TEST_F(FsCallback, AnErrorCarriesTheErrnoTheCallAndThePath) {
  bool called = false;
  read_file(*loop, p("missing"), [&](Outcome<std::string>& r) {
    called = true;
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), std::error_code(ENOENT, std::system_category()));
    EXPECT_STREQ(r.failure().op, "open");
    EXPECT_EQ(r.failure().path, p("missing"));
    EXPECT_EQ(r.what(), "open '" + p("missing") + "': No such file or directory");
    EXPECT_THROW(r.value(), Error);
    try {
      r.throw_if_failed();
    } catch (const Error& e) {
      EXPECT_EQ(e.path(), p("missing"));
    }
  });
  loop->run();
  EXPECT_TRUE(called);
}

// fs::Outcome is weft::Result with the ErrorInfo as its error type.
static_assert(std::is_same_v<Outcome<std::string>, weft::Result<std::string, ErrorInfo>>);
static_assert(std::is_same_v<Outcome<void>, weft::Result<void, ErrorInfo>>);

TEST_F(FsCallback, AVoidOutcomeThrowsFsErrorWithItsPaths) {
  bool called = false;
  rename(*loop, p("missing"), p("elsewhere"), [&](Outcome<void>& r) {
    called = true;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::error_code(ENOENT, std::system_category()));
    EXPECT_STREQ(r.failure().op, "rename");
    EXPECT_EQ(r.failure().dest, p("elsewhere"));
    try {
      r.value();
      ADD_FAILURE() << "value() did not throw";
    } catch (const Error& e) {
      EXPECT_EQ(e.path(), p("missing"));
      EXPECT_EQ(e.dest(), p("elsewhere"));
    }
  });
  loop->run();
  EXPECT_TRUE(called);
}

TEST_F(FsCallback, EveryOperation) {
  std::vector<std::string> log;
  auto step = [&](const char* name) {
    return [&log, name](auto& r) {
      EXPECT_TRUE(r.ok()) << name << ": " << r.what();
      log.push_back(name);
    };
  };
  mkdir(*loop, p("a/b"), {.recursive = true}, [&, s = step("mkdir")](Outcome<void>& r) mutable {
    s(r);
    write_file(*loop, p("a/b/f"), "12", {}, [&, s2 = step("write_file")](Outcome<void>& w) mutable {
      s2(w);
      append_file(*loop, p("a/b/f"), "3", [&, s3 = step("append_file")](Outcome<void>& a) mutable {
        s3(a);
        read_file(*loop, p("a/b/f"), [&](Outcome<std::string>& c) {
          EXPECT_EQ(c.value(), "123");
          rename(*loop, p("a/b/f"), p("a/g"), [&](Outcome<void>& m) {
            EXPECT_TRUE(m.ok());
            readdir(*loop, p("a"), [&](Outcome<std::vector<DirEntry>>& d) {
              EXPECT_EQ(d->size(), 2u);
              lstat(*loop, p("a/g"), [&](Outcome<Stat>& st) {
                EXPECT_EQ(st->size, 3u);
                realpath(*loop, p("a/b/../g"), [&](Outcome<std::string>& rp) {
                  EXPECT_EQ(rp.value(), std::filesystem::canonical(p("a/g")).string());
                  unlink(*loop, p("a/g"), [&](Outcome<void>& u) {
                    EXPECT_TRUE(u.ok());
                    rmdir(*loop, p("a/b"), [&](Outcome<void>& rd) {
                      EXPECT_TRUE(rd.ok());
                      remove_all(*loop, p("a"), [&](Outcome<std::uint64_t>& n) {
                        EXPECT_EQ(n.value(), 1u);
                        log.push_back("done");
                      });
                    });
                  });
                });
              });
            });
          });
        });
      });
    });
  });
  loop->run();
  EXPECT_EQ(log, (std::vector<std::string>{"mkdir", "write_file", "append_file", "done"}));
  EXPECT_FALSE(exists(p("a")));
}

TEST_F(FsCallback, CancelRemovesAQueuedOperation) {
  use_single_thread_runtime();
  occupy_the_pool();
  std::optional<Outcome<void>> got;
  WorkHandle h = write_file(*loop, p("never"), "x", {}, [&](Outcome<void>& r) { got.emplace(r); });
  EXPECT_TRUE(h.cancel());
  release();
  loop->run();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error(), canceled_error());
  EXPECT_STREQ(got->failure().op, "write_file");
  EXPECT_EQ(got->failure().path, p("never"));
  EXPECT_FALSE(exists(p("never")));
}

TEST_F(FsCallback, CancelCannotStopARunningOperation) {
  use_single_thread_runtime();
  ASSERT_EQ(::mkfifo(p("fifo").c_str(), 0600), 0);
  std::optional<std::string> got;
  WorkHandle h = read_file(*loop, p("fifo"), [&](Outcome<std::string>& r) { got = r.value(); });
  wait_until([&] { return rt->stats(WorkClass::fs).running == 1; });
  EXPECT_FALSE(h.cancel());
  std::thread writer([&] { put(p("fifo"), "through"); });
  loop->run();
  writer.join();
  EXPECT_EQ(got, "through");
}

TEST_F(FsCallback, ARefusedSubmissionIsReportedLaterWithThePath) {
  use_single_thread_runtime(/*max_queued=*/1);
  occupy_the_pool();
  ASSERT_FALSE(queue_work(
      *loop, WorkClass::fs, [] {}, [](Result<void>&) {}));
  bool returned = false;
  std::optional<Outcome<Stat>> got;
  WorkHandle h = stat(*loop, p("x"), [&](Outcome<Stat>& r) {
    EXPECT_TRUE(returned);
    got.emplace(std::move(r));
  });
  returned = true;
  EXPECT_FALSE(h);
  std::optional<Error> thrown = error_of([&] { return read_file(*loop, p("y")); });
  release();
  loop->run();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error(), make_error_code(weft::errc::queue_full));
  EXPECT_EQ(got->failure().path, p("x"));
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->code(), make_error_code(weft::errc::queue_full));
  EXPECT_EQ(thrown->path(), p("y"));
  EXPECT_STREQ(thrown->op(), "read_file");
}

TEST_F(FsCallback, ACoroutineDestroyedWhileItsOperationIsQueuedNeverRunsIt) {
  use_single_thread_runtime();
  occupy_the_pool();
  bool resumed = false;
  Task<void> task = [](std::string path, bool& flag) -> Task<void> {
    co_await write_file(path, "x");
    flag = true;
  }(p("never"), resumed);
  // The current-loop form needs Loop::current(): start the task from a loop callback.
  loop->post([&] { start(task); });
  loop->run(RunMode::nowait);
  task = Task<void>();  // destroyed mid-operation: the queued job is removed
  release();
  loop->run();
  EXPECT_FALSE(resumed);
  EXPECT_FALSE(exists(p("never")));
  EXPECT_EQ(rt->stats(WorkClass::fs).canceled, 1u);
}

TEST_F(FsCallback, ACoroutineDestroyedWhileItsOperationRunsDropsTheResult) {
  ASSERT_EQ(::mkfifo(p("fifo").c_str(), 0600), 0);
  std::size_t fds_before = count_open_fds();
  bool resumed = false;
  Task<void> task = [](Loop& l, std::string path, bool& flag) -> Task<void> {
    File f = co_await open(l, path);  // blocks on the pool until a writer opens the FIFO
    flag = true;
  }(*loop, p("fifo"), resumed);
  start(task);
  wait_until([&] { return loop->runtime().stats(WorkClass::fs).running == 1; });
  task = Task<void>();  // the open keeps running; its File is dropped and closed
  int w = ::open(p("fifo").c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(w, 0);
  loop->run();
  ::close(w);
  EXPECT_FALSE(resumed);
  EXPECT_EQ(count_open_fds(), fds_before);
}

TEST_F(FsCallback, DestroyingTheLoopDropsCompletions) {
  auto shared = std::make_shared<Runtime>(PoolOptions{.io_threads = 1});
  ASSERT_EQ(::mkfifo(p("fifo").c_str(), 0600), 0);
  bool called = false;
  {
    Loop doomed({.runtime = shared});
    read_file(doomed, p("fifo"), [&](Outcome<std::string>&) { called = true; });  // running
    stat(doomed, p("fifo"), [&](Outcome<Stat>&) { called = true; });              // queued
    spawn(doomed, [&]() -> Task<void> {
      co_await read_file(doomed, p("fifo"));
      called = true;
    });
    while (shared->stats(WorkClass::fs).running == 0) {
      doomed.run(RunMode::nowait);
      std::this_thread::sleep_for(1ms);
    }
  }
  put(p("fifo"), "late");  // lets the running read_file finish
  shared.reset();          // joins the pool thread
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace weft::fs::testing
