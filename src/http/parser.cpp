// RequestParser: dispatch between head and body, state resets, and the error table.
#include "weft/http/parser.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "http/parse_chars.hpp"

namespace weft::http {

namespace {

struct ErrorInfo {
  std::uint16_t status;
  std::string_view message;
};

// Indexed by ParseErrc; the order must match the enum (checked below).
constexpr std::array<ErrorInfo, 40> kErrors{{
    {0, "no error"},
    {414, "request line too long"},
    {400, "malformed request line"},
    {400, "invalid character in method"},
    {400, "invalid request target"},
    {400, "malformed HTTP version"},
    {505, "HTTP version not supported"},
    {431, "header section too large"},
    {431, "too many header fields"},
    {400, "bare CR in request head"},
    {400, "invalid character in field name"},
    {400, "whitespace between field name and colon"},
    {400, "field line without colon"},
    {400, "invalid character in field value"},
    {400, "obsolete line folding or leading whitespace in field line"},
    {400, "missing Host header"},
    {400, "more than one Host header"},
    {400, "invalid Content-Length"},
    {400, "duplicate Content-Length with different values"},
    {400, "both Content-Length and Transfer-Encoding"},
    {400, "Transfer-Encoding on an HTTP/1.0 request"},
    {400, "final transfer coding is not chunked"},
    {400, "malformed Transfer-Encoding"},
    {501, "unsupported transfer coding"},
    {413, "request body too large"},
    {400, "invalid chunk size"},
    {400, "chunk size too large"},
    {400, "invalid chunk extension"},
    {400, "chunk size line too long"},
    {400, "missing CRLF after chunk data"},
    {400, "line in chunked body not ended by CRLF"},
    {400, "invalid Host"},
    {417, "unsupported expectation (only 100-continue is)"},
    {501, "CONNECT is not supported by this server"},
    {502, "malformed status line"},
    {502, "invalid status code"},
    {502, "101 Switching Protocols without an upgrade request"},
    {502, "response body too large"},
    {502, "connection closed before the response was complete"},
    {502, "too many interim (1xx) responses"},
}};
static_assert(kErrors.size() ==
              static_cast<std::size_t>(ParseErrc::too_many_interim_responses) + 1);

const ErrorInfo& info(ParseErrc e) noexcept {
  const auto index = static_cast<std::size_t>(e);
  return kErrors[index < kErrors.size() ? index : 0];
}

class ParseCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.http.parse"; }
  std::string message(int code) const override {
    return std::string(describe(static_cast<ParseErrc>(code)));
  }
};

// Offsets are stored as 32 bits; no sane limit comes near that, clamp the insane ones.
ParserLimits clamped(ParserLimits limits) noexcept {
  constexpr std::size_t kMaxSection = std::size_t{1} << 30;
  limits.max_request_line = std::min(limits.max_request_line, kMaxSection);
  limits.max_header_block = std::min(limits.max_header_block, kMaxSection);
  return limits;
}

}  // namespace

std::uint16_t http_status(ParseErrc e) noexcept { return info(e).status; }
std::string_view describe(ParseErrc e) noexcept { return info(e).message; }
bool must_close(ParseErrc e) noexcept { return e != ParseErrc::none; }

const std::error_category& parse_category() noexcept {
  static const ParseCategory category;
  return category;
}

std::error_code make_error_code(ParseErrc e) noexcept {
  return {static_cast<int>(e), parse_category()};
}

std::string_view RequestHead::field(std::string_view name) const noexcept {
  for (const HeaderField& f : fields) {
    if (chars::iequals(f.name, name)) return f.value;
  }
  return {};
}

bool RequestHead::has_field(std::string_view name) const noexcept {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const HeaderField& f) { return chars::iequals(f.name, name); });
}

// Storage grows to the largest head seen and is kept, so parsing allocates nothing once
// warm. Nothing is reserved up front: a server holds a parser per connection, and 64
// fields' worth (3 KiB) would be most of what an idle connection costs.
RequestParser::RequestParser(ParserLimits limits) : limits_(clamped(limits)) {
  max_body_ = limits_.max_body;
}

ParseResult RequestParser::parse(std::string_view buffered) {
  switch (phase_) {
    case Phase::request_line:
    case Phase::header_fields:
      return parse_head(buffered);
    case Phase::failed:
      return {ParseStatus::error, 0, {}, error_};
    default:
      return parse_body(buffered);
  }
}

ParseResult RequestParser::fail(ParseErrc e) {
  phase_ = Phase::failed;
  error_ = e;
  return {ParseStatus::error, 0, {}, e};
}

// A new line-oriented section (chunk line or trailers) starts at the first unconsumed byte.
void RequestParser::start_section(Phase phase) noexcept {
  phase_ = phase;
  cursor_ = {};
}

// Ready for the next request. head(), fields and trailers stay as they are until the next
// head completes, so the caller can still use them.
ParseResult RequestParser::complete_message(std::size_t consumed) {
  start_section(Phase::request_line);
  request_line_ = {};
  facts_ = {};
  field_offsets_.clear();
  return {ParseStatus::message_complete, consumed, {}, ParseErrc::none};
}

void RequestParser::reset() noexcept {
  complete_message(0);
  error_ = ParseErrc::none;
  fields_.clear();
  chunked_.clear_trailers();
  head_ = {};
  max_body_ = limits_.max_body;
}

}  // namespace weft::http
