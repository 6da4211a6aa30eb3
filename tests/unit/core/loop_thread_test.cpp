// LoopThread (a thread that owns and runs a Loop) and Loop::local<T>() (per-loop storage).
#include <weft/loop_thread.hpp>
#include <weft/on_loop.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace weft {
namespace {

using namespace std::chrono_literals;

// Waits (bounded) for a flag another thread sets.
bool wait_for(const std::atomic<bool>& flag, std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!flag.load() && std::chrono::steady_clock::now() < end) std::this_thread::yield();
  return flag.load();
}

TEST(LoopThread, RunsPostsOnItsNamedThreadUntilStopped) {
  std::atomic<bool> ran{false};
  std::string name;
  std::thread::id id;
  LoopThread t({.name = "weft-test-loop", .runtime = nullptr});
  EXPECT_TRUE(t.post([&] {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    name = buf;
    id = std::this_thread::get_id();
    EXPECT_EQ(Loop::current(), &t.loop());
    ran = true;
  }));
  ASSERT_TRUE(wait_for(ran));
  std::this_thread::sleep_for(20ms);  // nothing referenced: the loop still runs
  std::atomic<bool> again{false};
  EXPECT_TRUE(t.post([&] { again = true; }));
  ASSERT_TRUE(wait_for(again));
  t.stop();
  t.join();
  EXPECT_EQ(name, "weft-test-loop");
  EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_FALSE(t.post([] {})) << "the loop has ended";
}

TEST(LoopThread, SetupRunsFirstOnTheThreadAndItsExceptionIsRethrown) {
  std::thread::id setup_thread;
  {
    LoopThread t({}, [&](LoopThread& self) {
      setup_thread = std::this_thread::get_id();
      EXPECT_TRUE(self.loop().on_loop_thread());
    });
    EXPECT_NE(setup_thread, std::this_thread::get_id());
  }
  EXPECT_THROW(LoopThread({}, [](LoopThread&) { throw std::runtime_error("cannot listen"); }),
               std::runtime_error);
}

TEST(LoopThread, StopRunsShutdownHooksThenFinishesReferencedWork) {
  std::vector<std::string> events;  // written on the loop thread, read after join
  std::unique_ptr<Timer> timer;
  LoopThread t({}, [&](LoopThread& self) {
    self.on_shutdown([&] {
      events.push_back("hook");
      timer = std::make_unique<Timer>(self.loop());
      timer->start([&] { events.push_back("timer after the hook"); }, 30ms);
    });
    self.on_exit([&] {
      events.push_back("exit");
      timer.reset();  // a handle of the loop, destroyed before the loop
    });
  });
  t.stop();  // no deadline: the referenced timer still fires
  t.join();
  EXPECT_EQ(events, (std::vector<std::string>{"hook", "timer after the hook", "exit"}));
}

TEST(LoopThread, TheDeadlineEndsWorkThatWouldOutliveIt) {
  std::atomic<bool> fired{false};
  std::unique_ptr<Timer> timer;
  LoopThread t({}, [&](LoopThread& self) {
    timer = std::make_unique<Timer>(self.loop());
    timer->start([&] { fired = true; }, 60s);
    self.on_exit([&] { timer.reset(); });
  });
  const auto t0 = std::chrono::steady_clock::now();
  t.stop(50ms);
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_FALSE(fired.load());
}

// A long graceful stop, then stop(zero) (a Server destroyed while it closes): the second
// call brings the end closer; a later, longer deadline does not push it back.
TEST(LoopThread, ALaterStopWithAnEarlierDeadlineEndsSooner) {
  std::atomic<bool> fired{false};
  std::unique_ptr<Timer> timer;
  LoopThread t({}, [&](LoopThread& self) {
    timer = std::make_unique<Timer>(self.loop());
    timer->start([&] { fired = true; }, 60s);
    self.on_exit([&] { timer.reset(); });
  });
  const auto t0 = std::chrono::steady_clock::now();
  t.stop(120s);
  t.stop(Duration::zero());
  t.stop(300s);
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_FALSE(fired.load());
}

// ---- on_loop ------------------------------------------------------------------------------

TEST(OnLoop, RunsOnTheOtherLoopAndResumesOnTheCallersWithTheValueOrTheException) {
  Loop loop;
  {
    LoopThread worker({.name = "weft-on-loop", .runtime = loop.runtime_ptr()});
    const std::thread::id here = std::this_thread::get_id();
    auto body = [&]() -> Task<int> {
      std::thread::id there;
      int plain = co_await on_loop(worker.loop(), [&] {
        there = std::this_thread::get_id();
        return 6;
      });
      EXPECT_EQ(std::this_thread::get_id(), here);
      EXPECT_NE(there, here);
      int awaited = co_await on_loop(worker.loop(), []() -> Task<int> { co_return 7; });
      bool threw = false;
      try {
        (void)co_await on_loop(worker.loop(), []() -> int { throw std::runtime_error("no"); });
      } catch (const std::runtime_error&) {
        threw = true;
      }
      EXPECT_TRUE(threw);
      co_return plain* awaited;
    };
    EXPECT_EQ(run_until_complete(loop, body()), 42);
  }
  weft::testing::expect_clean_close(loop);
}

// ---- Loop::local<T>() -------------------------------------------------------------------------

struct Counted {
  explicit Counted(Loop& l) : loop(&l) { ++alive; }
  ~Counted() {
    --alive;
    order.push_back("Counted");
  }
  Loop* loop;
  int uses = 0;
  static inline int alive = 0;
  static inline std::vector<std::string> order;
};

struct Later {
  ~Later() { Counted::order.push_back("Later"); }
};

TEST(LoopLocal, OnePerLoopConstructedOnFirstUseDestroyedNewestFirstByClose) {
  Counted::order.clear();
  Loop a, b;
  ++a.local<Counted>().uses;
  ++a.local<Counted>().uses;
  (void)a.local<Later>();
  EXPECT_EQ(a.local<Counted>().uses, 2);
  EXPECT_EQ(a.local<Counted>().loop, &a);
  EXPECT_EQ(b.local<Counted>().uses, 0);
  EXPECT_EQ(b.local<Counted>().loop, &b);
  EXPECT_EQ(Counted::alive, 2);
  weft::testing::expect_clean_close(a);
  EXPECT_EQ(Counted::alive, 1);
  EXPECT_EQ(Counted::order, (std::vector<std::string>{"Later", "Counted"}));
  weft::testing::expect_clean_close(b);
  EXPECT_EQ(Counted::alive, 0);
}

// A local that owns a handle: close() destroys it before checking that handles are closed.
struct OwnsATimer {
  explicit OwnsATimer(Loop& l) : timer(l) {
    timer.start([] {}, 1h);
  }
  Timer timer;
};

TEST(LoopLocal, ALocalMayOwnHandles) {
  Loop loop;
  (void)loop.local<OwnsATimer>();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft
