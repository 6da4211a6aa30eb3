#include <weft/observe/watchdog.hpp>

#include "observe/stack_capture.hpp"

#include <weft/loop.hpp>

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <climits>
#include <deque>
#include <mutex>
#include <thread>

namespace weft::observe {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

long long to_ms(nanoseconds d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

// Each check wakes a thread (~30 µs of CPU on a core the loop shares, caches cold), so
// checks are as rare as the threshold allows: a stall is seen 1–2 intervals past it.
nanoseconds default_interval(nanoseconds threshold) {
  return std::clamp<nanoseconds>(threshold / 2, milliseconds(1), milliseconds(50));
}

struct SlowJob {
  std::uint64_t seq;
  std::uint64_t id;
  nanoseconds running_for;
};

}  // namespace

struct Watchdog::State {
  State(Loop& l, WatchdogOptions o) : loop(l), runtime(l.runtime_ptr()), options(std::move(o)) {
    if (!options.check_interval.count())
      options.check_interval = default_interval(options.threshold);
    if (!options.signal) options.signal = SIGRTMIN + 5;
    if (options.capture_stack) detail::install_capture_handler(options.signal);
  }

  void run();
  void check_loop(SteadyTime now);
  void begin_stall(nanoseconds so_far);
  void end_stall(SteadyTime now);
  void check_jobs();
  void log(const std::string& line);
  void keep(StallReport report);  // under mu
  std::string on_loop() const {
    return options.loop_name.empty() ? "" : " on " + options.loop_name;
  }

  Loop& loop;
  std::shared_ptr<Runtime> runtime;
  WatchdogOptions options;

  // watchdog thread only
  std::uint64_t seen_progress = 0;
  SteadyTime seen_since{};
  bool stalled = false;
  std::vector<SlowJob> slow_jobs;
  std::uint64_t next_job_id = 1;

  mutable std::mutex mu;  // guards what follows
  std::condition_variable cv;
  bool stopping = false;
  std::deque<StallReport> reports;
  WatchdogCounters counters;
  StallReport* ongoing = nullptr;  // in `reports`
  std::thread thread;
};

// See WatchdogOptions::private_fd_table. close_range is probed first: without it the copy
// would keep every descriptor open at this moment alive until the watchdog ends.
static void use_private_fd_table() noexcept {
  if (::close_range(INT_MAX, INT_MAX, 0) != 0) return;  // kernel < 5.9: share the table
  if (::unshare(CLONE_FILES) != 0) return;
  (void)::close_range(3, ~0U, 0);
}

void Watchdog::State::run() {
  seen_progress = loop.probe().progress();
  seen_since = std::chrono::steady_clock::now();
  std::unique_lock lock(mu);
  while (!stopping) {
    cv.wait_for(lock, options.check_interval);
    if (stopping) break;
    lock.unlock();
    check_loop(std::chrono::steady_clock::now());
    if (options.job_threshold.count()) check_jobs();
    lock.lock();
  }
}

void Watchdog::State::check_loop(SteadyTime now) {
  const LoopProbe& probe = loop.probe();
  const LoopActivity activity = probe.activity();
  const std::uint64_t progress = probe.progress();
  if (activity != LoopActivity::running || progress != seen_progress) {
    if (stalled) end_stall(now);
    seen_progress = progress;
    seen_since = now;
    return;
  }
  const nanoseconds so_far = now - seen_since;
  if (stalled) {
    std::lock_guard lock(mu);
    if (ongoing) ongoing->duration = so_far;
  } else if (so_far >= options.threshold) {
    begin_stall(so_far);
  }
}

void Watchdog::State::begin_stall(nanoseconds so_far) {
  stalled = true;
  StallReport r;
  r.began = std::chrono::system_clock::now() -
            std::chrono::duration_cast<std::chrono::system_clock::duration>(so_far);
  r.duration = so_far;
  detail::CapturedStack captured;
  const LoopProbe& probe = loop.probe();
  if (options.capture_stack && probe.has_thread() &&
      detail::capture_stack(probe.thread(), probe, options.signal, options.capture_timeout,
                            options.max_frames, captured)) {
    r.label = captured.label;
    r.stack = std::move(captured.frames);
  }
  if (r.label.empty()) r.label = "(unknown)";
  r.loop = options.loop_name;
  std::string line;
  {
    std::lock_guard lock(mu);
    r.id = ++counters.loop_stalls;
    counters.stalled_now = true;
    line = "weft.watchdog: loop stall #" + std::to_string(r.id) + on_loop() + ": " + r.label +
           " running for " + std::to_string(to_ms(so_far)) + " ms (threshold " +
           std::to_string(to_ms(options.threshold)) + " ms)";
    line += r.stack.empty() ? "; no stack" : "; stack:";
    for (std::size_t i = 0; i < r.stack.size(); ++i) {
      line += "\n  #" + std::to_string(i) + " " + r.stack[i];
    }
    keep(std::move(r));
    ongoing = &reports.back();
  }
  log(line);
}

void Watchdog::State::end_stall(SteadyTime now) {
  stalled = false;
  const nanoseconds total = now - seen_since;
  std::string line;
  {
    std::lock_guard lock(mu);
    counters.stalled_now = false;
    counters.loop_stall_ns += static_cast<std::uint64_t>(total.count());
    if (!ongoing) return;
    ongoing->duration = total;
    ongoing->ongoing = false;
    line = "weft.watchdog: loop stall #" + std::to_string(ongoing->id) + on_loop() +
           " ended after " + std::to_string(to_ms(total)) + " ms: " + ongoing->label;
    ongoing = nullptr;
  }
  log(line);
}

// A job is reported once when it passes the threshold and once when it is gone; its
// total is known to within one check interval.
void Watchdog::State::check_jobs() {
  std::vector<RunningJob> running = runtime->running_jobs();
  for (auto it = slow_jobs.begin(); it != slow_jobs.end();) {
    auto still = std::find_if(running.begin(), running.end(),
                              [&](const RunningJob& j) { return j.seq == it->seq; });
    if (still != running.end()) {
      it->running_for = still->running_for;
      ++it;
      continue;
    }
    log("weft.watchdog: pool job #" + std::to_string(it->id) + " ended after about " +
        std::to_string(to_ms(it->running_for + options.check_interval)) + " ms");
    it = slow_jobs.erase(it);
  }
  for (const RunningJob& j : running) {
    if (j.running_for < options.job_threshold) continue;
    bool known = std::any_of(slow_jobs.begin(), slow_jobs.end(),
                             [&](const SlowJob& s) { return s.seq == j.seq; });
    if (known) continue;
    StallReport r;
    r.kind = StallReport::Kind::pool_job;
    r.id = next_job_id++;
    r.work_class = j.cls;
    r.label = j.label ? j.label : std::string(to_string(j.cls)) + " job";
    r.duration = j.running_for;
    r.began = std::chrono::system_clock::now() -
              std::chrono::duration_cast<std::chrono::system_clock::duration>(j.running_for);
    slow_jobs.push_back({j.seq, r.id, j.running_for});
    std::string line = "weft.watchdog: pool job #" + std::to_string(r.id) + " (" +
                       to_string(j.cls) + ") " + r.label + " running for " +
                       std::to_string(to_ms(j.running_for)) + " ms (threshold " +
                       std::to_string(to_ms(options.job_threshold)) + " ms)";
    {
      std::lock_guard lock(mu);
      ++counters.slow_jobs;
      keep(std::move(r));
    }
    log(line);
  }
}

void Watchdog::State::keep(StallReport report) {
  if (options.keep_last == 0) return;
  while (reports.size() >= options.keep_last) {
    if (ongoing == &reports.front()) ongoing = nullptr;
    reports.pop_front();
  }
  reports.push_back(std::move(report));
}

void Watchdog::State::log(const std::string& line) {
  if (options.log_sink) {
    options.log_sink(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

Watchdog::Watchdog(Loop& loop, WatchdogOptions options)
    : state_(std::make_unique<State>(loop, std::move(options))) {
  // The constructor returns once the thread has its descriptor table, so that no
  // descriptor the caller closes afterwards stays referenced by a copy. (A mutex and
  // condition variable, not std::promise: TSan does not see libstdc++'s futex waits.)
  bool ready = false;
  state_->thread = std::thread([s = state_.get(), &ready] {
    if (s->options.private_fd_table && !s->options.log_sink) use_private_fd_table();
    {
      std::lock_guard lock(s->mu);
      ready = true;
    }
    s->cv.notify_all();
    s->run();
  });
  pthread_setname_np(state_->thread.native_handle(), "weft-watchdog");
  std::unique_lock lock(state_->mu);
  state_->cv.wait(lock, [&] { return ready; });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  state_->cv.notify_all();
  state_->thread.join();
}

std::vector<StallReport> Watchdog::recent() const {
  std::lock_guard lock(state_->mu);
  return {state_->reports.begin(), state_->reports.end()};
}

WatchdogCounters Watchdog::counters() const {
  std::lock_guard lock(state_->mu);
  return state_->counters;
}

const WatchdogOptions& Watchdog::options() const noexcept { return state_->options; }

}  // namespace weft::observe
