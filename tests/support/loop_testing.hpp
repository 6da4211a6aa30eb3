// Helpers shared by loop tests.
#pragma once

#include <weft/loop.hpp>

#include <gtest/gtest.h>

namespace weft::testing {

// Every loop test ends here: nothing may be left open (libuv's rule).
inline void expect_clean_close(Loop& loop) {
  std::error_code ec = loop.close();
  EXPECT_FALSE(ec) << ec.message() << "\nopen handles:\n" << loop.describe_open_handles();
}

}  // namespace weft::testing
