// Helpers shared by loop tests.
#pragma once

#include <weft/clock.hpp>
#include <weft/loop.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

namespace weft::testing {

// A loop on paused time: the manual clock only moves when the loop has nothing to do but
// wait for a timer, and then jumps to it (tokio's paused, auto-advancing time).
struct ManualLoop {
  ManualClock clock;
  Loop loop{LoopOptions{.runtime = nullptr, .clock = &clock}};
  TimePoint start = clock.now();
  Duration elapsed() const { return clock.now() - start; }
};

// Every loop test ends here: nothing may be left open (libuv's rule).
inline void expect_clean_close(Loop& loop) {
  std::error_code ec = loop.close();
  EXPECT_FALSE(ec) << ec.message() << "\nopen handles:\n" << loop.describe_open_handles();
}

// A non-blocking pipe for I/O watcher tests: readiness on demand.
struct Pipe {
  int fds[2];
  Pipe() { EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0); }
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void write_byte() { ASSERT_EQ(::write(fds[1], "x", 1), 1); }
  void read_byte() {
    char c;
    ASSERT_EQ(::read(fds[0], &c, 1), 1);
  }
};

}  // namespace weft::testing
