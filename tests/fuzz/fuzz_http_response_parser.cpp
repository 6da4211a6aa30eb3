// libFuzzer target for weft::http::ResponseParser (the client's side).
//
// Input: byte 0 selects the limits (default or tiny), whether the first response answers
// a HEAD, and where to split; the rest is a byte stream as a server would send it, then
// the close. Checked invariants (a violation aborts): the driver's per-call contract
// (tests/unit/http/response_driver.hpp); feeding the stream split once, twice, in small
// pieces or byte by byte gives the same transcript (heads, bodies, trailers, error) as
// feeding it whole.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string_view>

#include "unit/http/response_driver.hpp"

namespace {

using namespace weft::http;
using namespace weft::http::testing;

void require_clean(const ResponseDriver& d) {
  if (d.violations().empty()) return;
  std::fprintf(stderr, "contract violation: %s\n", d.violations().front().c_str());
  std::abort();
}

void compare(const char* how, const RTranscript& whole, const ResponseDriver& other) {
  require_clean(other);
  if (other.transcript() == whole) return;
  std::ostringstream os;
  os << how << "\nexpected: " << whole << "\ngot: " << other.transcript() << "\n";
  std::fputs(os.str().c_str(), stderr);
  std::abort();
}

ParserLimits tiny_limits() {
  ParserLimits l;
  l.max_request_line = 48;
  l.max_header_block = 128;
  l.max_header_fields = 4;
  l.max_body = 256;
  l.max_chunk_line = 24;
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const ParserLimits limits = (control & 1) ? tiny_limits() : ParserLimits{};
  std::vector<std::string> methods;
  if (control & 2) methods = {"HEAD", "GET", "HEAD"};

  const ResponseDriver whole = run_response(input, {}, true, limits, methods);
  require_clean(whole);
  const std::size_t cut = input.empty() ? 0 : (control >> 2) % (input.size() + 1);
  compare("split once", whole.transcript(), run_response(input, {cut}, true, limits, methods));
  compare("split twice", whole.transcript(),
          run_response(input, {cut / 2, cut + 3}, true, limits, methods));
  std::vector<std::size_t> small;
  for (std::size_t at = 1 + control % 7; at < input.size(); at += 1 + (at * 31 + control) % 11)
    small.push_back(at);
  compare("small pieces", whole.transcript(), run_response(input, small, true, limits, methods));
  if (input.size() <= 2048) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
    compare("byte by byte", whole.transcript(), run_response(input, every, true, limits, methods));
  }
  return 0;
}
