// Helpers shared by loop tests.
#pragma once

#include <weft/clock.hpp>
#include <weft/loop.hpp>

#include <gtest/gtest.h>

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

}  // namespace weft::testing
