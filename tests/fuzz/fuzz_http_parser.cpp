// libFuzzer target for weft::http::RequestParser.
//
// Input: byte 0 selects the limits (default or tiny, so limit paths are reachable) and
// where to split; the rest is a byte stream as a client would send it. Checked invariants
// (a violation aborts, which libFuzzer reports as a crash):
//   - consumed <= size on every call; every view lies inside the bytes of that call
//     (tests/unit/http/parser_driver.hpp checks each call);
//   - the stream parsed from one exact-size allocation (so ASan sees any read past the
//     end) gives the same transcript as the driver;
//   - feeding the stream split at one or two points, in small pieces, or byte by byte
//     gives the same transcript (messages, fields, bodies, trailers, error) as whole.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string_view>

#include "unit/http/parser_driver.hpp"

namespace {

using namespace weft::http;
using namespace weft::http::testing;

[[noreturn]] void fail(const char* what, const Transcript& expected, const Transcript& got) {
  std::ostringstream os;
  os << what << "\nexpected: " << expected << "\ngot: " << got << "\n";
  std::fputs(os.str().c_str(), stderr);
  std::abort();
}

void require_clean(const Driver& d) {
  if (d.violations().empty()) return;
  std::fprintf(stderr, "contract violation: %s\n", d.violations().front().c_str());
  std::abort();
}

ParserLimits tiny_limits() {
  ParserLimits l;
  l.max_request_line = 64;
  l.max_header_block = 128;
  l.max_header_fields = 4;
  l.max_body = 256;
  l.max_chunk_line = 24;
  return l;
}

// Parses the stream from one exactly sized heap block, the way a connection with a fixed
// buffer would, and builds the transcript from what the parser reports.
Transcript parse_exact(std::string_view input, const ParserLimits& limits) {
  const std::unique_ptr<char[]> block(new char[input.size()]);
  std::copy(input.begin(), input.end(), block.get());
  std::string_view rest(block.get(), input.size());
  RequestParser parser(limits);
  Transcript t;
  for (std::size_t calls = 0; calls < 4 * input.size() + 16; ++calls) {
    const ParseResult r = parser.parse(rest);
    if (r.consumed > rest.size()) std::abort();
    if (r.status == ParseStatus::head_complete) t.messages.push_back(copy_head(parser.head()));
    if (r.status == ParseStatus::body_data) t.messages.back().body.append(r.body);
    if (r.status == ParseStatus::message_complete) {
      t.messages.back().trailers = copy_fields(parser.trailers());
      t.messages.back().complete = true;
    }
    if (r.status == ParseStatus::error) t.error = r.error;
    rest.remove_prefix(r.consumed);
    if (r.status == ParseStatus::need_more || r.status == ParseStatus::error) return t;
  }
  std::fputs("parser made no progress\n", stderr);
  std::abort();
}

void compare(const char* how, const Transcript& whole, const Driver& other) {
  require_clean(other);
  if (!(other.transcript() == whole)) fail(how, whole, other.transcript());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const ParserLimits limits = (control & 1) ? tiny_limits() : ParserLimits{};

  const Driver whole = run_whole(input, limits);
  require_clean(whole);
  const Transcript exact = parse_exact(input, limits);
  if (!(exact == whole.transcript())) fail("exact-size buffer", whole.transcript(), exact);

  const std::size_t cut = input.empty() ? 0 : (control >> 1) % (input.size() + 1);
  compare("split once", whole.transcript(), run_in_pieces(input, {cut}, limits));
  compare("split twice", whole.transcript(), run_in_pieces(input, {cut / 2, cut + 3}, limits));
  std::vector<std::size_t> small;
  for (std::size_t at = 1 + control % 7; at < input.size(); at += 1 + (at * 31 + control) % 11) {
    small.push_back(at);
  }
  compare("small pieces", whole.transcript(), run_in_pieces(input, small, limits));
  if (input.size() <= 2048)
    compare("byte by byte", whole.transcript(), run_bytewise(input, limits));
  return 0;
}
