// bench_core: weft's core runtime against libuv, case by case, in one binary and one run.
//
// Every case exists twice, BM_<case>_weft and BM_<case>_libuv, measured in the same shape
// so the ratio weft/libuv of their items/s is meaningful. scripts/bench-core runs them and
// prints the ratio table; docs/BENCHMARKS.md records results and the shapes.
//
//  pool_roundtrip/K   submit K empty jobs to the I/O pool (4 threads on both sides), run the
//                     loop until every completion ran on the loop thread. items = jobs.
//  post               a second thread posts K closures into the loop; the loop runs until
//                     all K ran. The loop thread and the poster are pinned to two different
//                     CPUs (the first two the process may use), so the shape is cross-core. weft:
//                     Loop::post; libuv: mutex-protected queue + uv_async_send. items = closures.
//  timer_churn        start 1,000,000 timers with scattered timeouts, then stop them all.
//                     items = timers (one start + one stop each).
//  timer_fire         1,000,000 timers due now fire in one non-blocking loop iteration (only
//                     the iteration is timed). items = timers fired.
//  idle_iteration     one non-blocking iteration with one active Prepare handle (uv_prepare_t).
//  idle_iteration_io  one non-blocking iteration with one fd watched for readability on an
//                     idle pipe (IoWatcher / uv_poll_t).
#include <weft/io_watcher.hpp>
#include <weft/loop.hpp>
#include <weft/phase_handle.hpp>
#include <weft/pool.hpp>
#include <weft/timer.hpp>

#include <benchmark/benchmark.h>
#include <uv.h>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

constexpr unsigned kPoolThreads = 4;
constexpr std::size_t kTimerCount = 1'000'000;
constexpr std::int64_t kPostBatch = 10'000;

// ---- shared helpers ---------------------------------------------------------------------

std::shared_ptr<weft::Runtime> weft_runtime() {
  static auto runtime =
      std::make_shared<weft::Runtime>(weft::PoolOptions{.io_threads = kPoolThreads});
  return runtime;
}

weft::LoopOptions weft_loop_options() {
  weft::LoopOptions options;
  options.runtime = weft_runtime();
  return options;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "bench_core: %s\n", what);
    std::abort();
  }
}

void check_uv(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "bench_core: %s: %s\n", what, uv_strerror(rc));
    std::abort();
  }
}

// Closes every handle still open on a libuv loop, runs the close callbacks, closes the loop.
void close_uv_loop(uv_loop_t* loop) {
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  check_uv(uv_loop_close(loop), "uv_loop_close");
}

// Scattered timeouts (1 ms .. ~17 min), the same sequence for both sides.
const std::vector<std::uint64_t>& timer_timeouts_ms() {
  static const std::vector<std::uint64_t> timeouts = [] {
    std::vector<std::uint64_t> v(kTimerCount);
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    for (auto& t : v) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      t = 1 + x % 1'000'000;
    }
    return v;
  }();
  return timeouts;
}

// The first two CPUs this process may run on, or -1 when it may run on fewer than two.
std::pair<int, int> two_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return {-1, -1};
  int found[2] = {-1, -1};
  int n = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; ++cpu) {
    if (CPU_ISSET(cpu, &set)) found[n++] = cpu;
  }
  return n == 2 ? std::pair{found[0], found[1]} : std::pair{-1, -1};
}

// Pins the calling thread to `cpu` (no-op for -1) and restores its affinity on destruction.
class PinThread {
 public:
  explicit PinThread(int cpu) {
    if (cpu < 0) return;
    pinned_ = pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_) == 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pinned_ = pinned_ && pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
  }
  ~PinThread() {
    if (pinned_) pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
  }
  PinThread(const PinThread&) = delete;
  PinThread& operator=(const PinThread&) = delete;

 private:
  cpu_set_t saved_{};
  bool pinned_ = false;
};

// A thread that runs `batch` each time go() is called. go() must not be called again before
// the previous batch has made its effect visible to the caller (here: all its posts ran).
class Producer {
 public:
  Producer(std::function<void()> batch, int cpu)
      : batch_(std::move(batch)), cpu_(cpu), thread_([this] { main(); }) {}
  ~Producer() {
    quit_.store(true, std::memory_order_release);
    go();
    thread_.join();
  }
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  void go() {
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_one();
  }

 private:
  void main() {
    PinThread pin(cpu_);
    std::uint64_t seen = 0;
    for (;;) {
      generation_.wait(seen, std::memory_order_acquire);
      seen = generation_.load(std::memory_order_acquire);
      if (quit_.load(std::memory_order_acquire)) return;
      batch_();
    }
  }

  std::function<void()> batch_;
  int cpu_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

// ---- pool_roundtrip -----------------------------------------------------------------------

void BM_pool_roundtrip_weft(benchmark::State& state) {
  const auto k = state.range(0);
  weft::Loop loop(weft_loop_options());
  std::int64_t done = 0;
  auto batch = [&] {
    for (std::int64_t i = 0; i < k; ++i) {
      auto ec = weft::queue_work(
          loop, weft::WorkClass::fs, [] {}, [&done](auto&) { ++done; });
      check(!ec, "queue_work");
    }
    loop.run();
  };
  batch();  // warm-up: threads started, queues grown
  done = 0;
  for (auto _ : state) batch();
  check(done == static_cast<std::int64_t>(state.iterations()) * k,
        "pool_roundtrip_weft: lost completions");
  check(!loop.close(), "weft loop close");
  state.SetItemsProcessed(done);
  state.counters["threads"] = weft_runtime()->io_threads();
}

void BM_pool_roundtrip_libuv(benchmark::State& state) {
  const auto k = state.range(0);
  uv_loop_t loop;
  check_uv(uv_loop_init(&loop), "uv_loop_init");
  std::int64_t done = 0;
  std::vector<uv_work_t> reqs(static_cast<std::size_t>(k));
  auto batch = [&] {
    for (auto& req : reqs) {
      req.data = &done;
      check_uv(uv_queue_work(
                   &loop, &req, [](uv_work_t*) {},
                   [](uv_work_t* r, int status) {
                     if (status == 0) ++*static_cast<std::int64_t*>(r->data);
                   }),
               "uv_queue_work");
    }
    uv_run(&loop, UV_RUN_DEFAULT);
  };
  batch();
  done = 0;
  for (auto _ : state) batch();
  check(done == static_cast<std::int64_t>(state.iterations()) * k,
        "pool_roundtrip_libuv: lost completions");
  close_uv_loop(&loop);
  state.SetItemsProcessed(done);
  state.counters["threads"] = kPoolThreads;
}

// ---- post -----------------------------------------------------------------------------------

void BM_post_weft(benchmark::State& state) {
  const auto [loop_cpu, producer_cpu] = two_cpus();
  PinThread pin(loop_cpu);
  weft::Loop loop(weft_loop_options());
  struct Context {
    std::int64_t count = 0;
    weft::Loop::KeepAlive keep_alive;  // created on the loop thread, released by the last post
  } ctx;
  Producer producer(
      [&] {
        Context* c = &ctx;
        for (std::int64_t i = 0; i < kPostBatch; ++i) {
          loop.post([c] {
            if (++c->count == kPostBatch) c->keep_alive.reset();
          });
        }
      },
      producer_cpu);
  std::int64_t total = 0;
  for (auto _ : state) {
    ctx.count = 0;
    ctx.keep_alive = weft::Loop::KeepAlive(loop);
    producer.go();
    loop.run();
    total += ctx.count;
  }
  check(total == static_cast<std::int64_t>(state.iterations()) * kPostBatch,
        "post_weft: lost posts");
  check(!loop.close(), "weft loop close");
  state.SetItemsProcessed(total);
  state.counters["pinned"] = loop_cpu >= 0;
}

// The usual way to post a closure into a libuv loop: a mutex-protected queue drained by a
// uv_async_t callback. The closure type is weft::Function on both sides so that only the
// hand-off mechanism differs.
struct UvPostQueue {
  uv_async_t async;
  std::mutex mu;
  std::vector<weft::Function<void()>> queue;
  std::vector<weft::Function<void()>> running;

  void post(weft::Function<void()> fn) {
    {
      std::lock_guard lock(mu);
      queue.push_back(std::move(fn));
    }
    uv_async_send(&async);
  }
  static void drain(uv_async_t* a) {
    auto* self = static_cast<UvPostQueue*>(a->data);
    {
      std::lock_guard lock(self->mu);
      self->running.swap(self->queue);
    }
    for (auto& fn : self->running) fn();
    self->running.clear();
  }
};

void BM_post_libuv(benchmark::State& state) {
  const auto [loop_cpu, producer_cpu] = two_cpus();
  PinThread pin(loop_cpu);
  uv_loop_t loop;
  check_uv(uv_loop_init(&loop), "uv_loop_init");
  UvPostQueue q;
  check_uv(uv_async_init(&loop, &q.async, &UvPostQueue::drain), "uv_async_init");
  q.async.data = &q;
  uv_unref(reinterpret_cast<uv_handle_t*>(&q.async));
  struct Context {
    std::int64_t count = 0;
    uv_async_t* async;
  } ctx{0, &q.async};
  Producer producer(
      [&] {
        Context* c = &ctx;
        for (std::int64_t i = 0; i < kPostBatch; ++i) {
          q.post([c] {  // the last one lets uv_run return, like weft's KeepAlive release
            if (++c->count == kPostBatch) uv_unref(reinterpret_cast<uv_handle_t*>(c->async));
          });
        }
      },
      producer_cpu);
  std::int64_t total = 0;
  for (auto _ : state) {
    ctx.count = 0;
    uv_ref(reinterpret_cast<uv_handle_t*>(&q.async));
    producer.go();
    uv_run(&loop, UV_RUN_DEFAULT);
    total += ctx.count;
  }
  check(total == static_cast<std::int64_t>(state.iterations()) * kPostBatch,
        "post_libuv: lost posts");
  close_uv_loop(&loop);
  state.SetItemsProcessed(total);
  state.counters["pinned"] = loop_cpu >= 0;
}

// ---- timer_churn / timer_fire ---------------------------------------------------------------

// Timers are non-movable: a contiguous array of optionals constructed in place, like the
// uv_timer_t array on the libuv side.
std::unique_ptr<std::optional<weft::Timer>[]> make_weft_timers(weft::Loop& loop, std::size_t n) {
  auto timers = std::make_unique<std::optional<weft::Timer>[]>(n);
  for (std::size_t i = 0; i < n; ++i) timers[i].emplace(loop);
  return timers;
}

std::unique_ptr<uv_timer_t[]> make_uv_timers(uv_loop_t* loop, std::size_t n) {
  std::unique_ptr<uv_timer_t[]> timers(new uv_timer_t[n]);
  for (std::size_t i = 0; i < n; ++i) check_uv(uv_timer_init(loop, &timers[i]), "uv_timer_init");
  return timers;
}

void BM_timer_churn_weft(benchmark::State& state) {
  const auto& timeouts = timer_timeouts_ms();
  {
    weft::Loop loop(weft_loop_options());
    {
      auto timers = make_weft_timers(loop, kTimerCount);
      for (auto _ : state) {
        for (std::size_t i = 0; i < kTimerCount; ++i) {
          timers[i]->start([] {}, std::chrono::milliseconds(timeouts[i]));
        }
        for (std::size_t i = 0; i < kTimerCount; ++i) timers[i]->stop();
      }
    }
    check(!loop.close(), "weft loop close");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTimerCount));
}

void BM_timer_churn_libuv(benchmark::State& state) {
  const auto& timeouts = timer_timeouts_ms();
  uv_loop_t loop;
  check_uv(uv_loop_init(&loop), "uv_loop_init");
  auto timers = make_uv_timers(&loop, kTimerCount);
  for (auto _ : state) {
    for (std::size_t i = 0; i < kTimerCount; ++i) {
      uv_timer_start(
          &timers[i], [](uv_timer_t*) {}, timeouts[i], 0);
    }
    for (std::size_t i = 0; i < kTimerCount; ++i) uv_timer_stop(&timers[i]);
  }
  close_uv_loop(&loop);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTimerCount));
}

void BM_timer_fire_weft(benchmark::State& state) {
  std::int64_t fired = 0;
  {
    weft::Loop loop(weft_loop_options());
    {
      auto timers = make_weft_timers(loop, kTimerCount);
      for (auto _ : state) {
        state.PauseTiming();
        for (std::size_t i = 0; i < kTimerCount; ++i) {
          timers[i]->start([&fired] { ++fired; }, weft::Duration::zero());
        }
        state.ResumeTiming();
        loop.run(weft::RunMode::nowait);
      }
    }
    check(!loop.close(), "weft loop close");
  }
  check(fired == static_cast<std::int64_t>(state.iterations() * kTimerCount),
        "timer_fire_weft: lost timers");
  state.SetItemsProcessed(fired);
}

void BM_timer_fire_libuv(benchmark::State& state) {
  std::int64_t fired = 0;
  uv_loop_t loop;
  check_uv(uv_loop_init(&loop), "uv_loop_init");
  loop.data = &fired;
  auto timers = make_uv_timers(&loop, kTimerCount);
  for (auto _ : state) {
    state.PauseTiming();
    for (std::size_t i = 0; i < kTimerCount; ++i) {
      uv_timer_start(
          &timers[i], [](uv_timer_t* t) { ++*static_cast<std::int64_t*>(t->loop->data); }, 0, 0);
    }
    state.ResumeTiming();
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  close_uv_loop(&loop);
  check(fired == static_cast<std::int64_t>(state.iterations() * kTimerCount),
        "timer_fire_libuv: lost timers");
  state.SetItemsProcessed(fired);
}

// ---- idle_iteration -------------------------------------------------------------------------

void BM_idle_iteration_weft(benchmark::State& state) {
  std::int64_t calls = 0;
  {
    weft::Loop loop(weft_loop_options());
    {
      weft::Prepare prepare(loop);
      prepare.start([&calls] { ++calls; });
      for (auto _ : state) loop.run(weft::RunMode::nowait);
    }
    check(!loop.close(), "weft loop close");
  }
  check(calls == static_cast<std::int64_t>(state.iterations()),
        "idle_iteration_weft: missed iterations");
  state.SetItemsProcessed(calls);
}

void BM_idle_iteration_libuv(benchmark::State& state) {
  std::int64_t calls = 0;
  uv_loop_t loop;
  check_uv(uv_loop_init(&loop), "uv_loop_init");
  uv_prepare_t prepare;
  check_uv(uv_prepare_init(&loop, &prepare), "uv_prepare_init");
  prepare.data = &calls;
  check_uv(
      uv_prepare_start(&prepare, [](uv_prepare_t* p) { ++*static_cast<std::int64_t*>(p->data); }),
      "uv_prepare_start");
  for (auto _ : state) uv_run(&loop, UV_RUN_NOWAIT);
  close_uv_loop(&loop);
  check(calls == static_cast<std::int64_t>(state.iterations()),
        "idle_iteration_libuv: missed iterations");
  state.SetItemsProcessed(calls);
}

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { check(::pipe(fds) == 0, "pipe"); }
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
};

void BM_idle_iteration_io_weft(benchmark::State& state) {
  Pipe pipe;
  {
    weft::Loop loop(weft_loop_options());
    {
      weft::IoWatcher watcher(loop, pipe.fds[0]);
      check(!watcher.start(weft::io_event::readable, [](unsigned) { std::abort(); }),
            "IoWatcher::start");
      for (auto _ : state) loop.run(weft::RunMode::nowait);
    }
    check(!loop.close(), "weft loop close");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_idle_iteration_io_libuv(benchmark::State& state) {
  Pipe pipe;
  uv_loop_t loop;
  check_uv(uv_loop_init(&loop), "uv_loop_init");
  uv_poll_t poll;
  check_uv(uv_poll_init(&loop, &poll, pipe.fds[0]), "uv_poll_init");
  check_uv(uv_poll_start(&poll, UV_READABLE, [](uv_poll_t*, int, int) { std::abort(); }),
           "uv_poll_start");
  for (auto _ : state) uv_run(&loop, UV_RUN_NOWAIT);
  close_uv_loop(&loop);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

}  // namespace

// Multi-threaded cases are timed in wall-clock time (the loop thread sleeps while it waits);
// single-loop cases in CPU time of the loop thread.
BENCHMARK(BM_pool_roundtrip_weft)->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK(BM_pool_roundtrip_libuv)->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK(BM_post_weft)->UseRealTime();
BENCHMARK(BM_post_libuv)->UseRealTime();
BENCHMARK(BM_timer_churn_weft)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_timer_churn_libuv)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_timer_fire_weft)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_timer_fire_libuv)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_idle_iteration_weft);
BENCHMARK(BM_idle_iteration_libuv);
BENCHMARK(BM_idle_iteration_io_weft);
BENCHMARK(BM_idle_iteration_io_libuv);

int main(int argc, char** argv) {
  // libuv sizes its (process-global) pool from the environment at its first use.
  ::setenv("UV_THREADPOOL_SIZE", "4", 1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("pool_threads", std::to_string(kPoolThreads));
  benchmark::AddCustomContext("libuv", uv_version_string());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
