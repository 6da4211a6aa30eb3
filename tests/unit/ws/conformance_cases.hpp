// The RFC 6455 conformance table: raw client bytes and what a server must make of them.
// Shared by the parser's unit test (every split point) and the socket test (real server).
#pragma once

#include "ws_test_frames.hpp"

#include <string>
#include <vector>

namespace weft::ws::testing {

struct ConformanceCase {
  std::string name;
  std::string input;                // client bytes (masked)
  std::vector<std::string> events;  // "text:..", "binary:<n>", "ping:..", "pong:..", "close:<code>"
  int error = 0;                    // the close code the server must send (0: none)
  std::size_t max_message_size = 0;  // 0: the default (1 MiB)
};

std::vector<ConformanceCase> conformance_cases();

}  // namespace weft::ws::testing
