// ResponseParser: the response body — Content-Length, chunked with trailers, or delimited
// by the connection's close (RFC 9112 §6.3, §7.1) — and the end of input.
//
// As on the request side, data is handed out as views as soon as it is buffered, chunk
// framing is consumed silently, every line of the chunked framing must end in CRLF, and
// the trailer section is consumed only when complete (its views then share one buffer).
#include <algorithm>

#include "http/parse_chars.hpp"
#include "http/parse_internal.hpp"
#include "weft/http/response_parser.hpp"

namespace weft::http {

namespace {
using std::string_view;
}  // namespace

ParseResult ResponseParser::parse_body(string_view in) {
  switch (phase_) {
    case Phase::body_start:
      return start_body(in);
    case Phase::fixed_body:
      return parse_fixed_body(in);
    case Phase::until_close:
      return parse_until_close(in);
    default:
      return parse_chunked(in);
  }
}

ParseResult ResponseParser::start_body(string_view in) {
  body_total_ = 0;
  switch (head_.framing) {
    case ResponseFraming::content_length:
      if (head_.content_length > limits_.max_body) return fail(ParseErrc::response_too_large);
      body_remaining_ = head_.content_length;
      phase_ = Phase::fixed_body;
      return parse_fixed_body(in);
    case ResponseFraming::chunked:
      chunked_.start({limits_.max_chunk_line, limits_.max_header_block, limits_.max_header_fields,
                      limits_.max_body, ParseErrc::response_too_large});
      phase_ = Phase::chunked;
      return parse_chunked(in);
    case ResponseFraming::until_close:
      phase_ = Phase::until_close;
      return parse_until_close(in);
    case ResponseFraming::none:
      break;
  }
  return complete_message(0);
}

ParseResult ResponseParser::parse_fixed_body(string_view in) {
  if (body_remaining_ == 0) return complete_message(0);
  if (in.empty()) return {};
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), body_remaining_));
  body_remaining_ -= n;
  body_total_ += n;
  return {ParseStatus::body_data, n, in.substr(0, n), ParseErrc::none};
}

// Everything up to the close is body; finish() ends it.
ParseResult ResponseParser::parse_until_close(string_view in) {
  if (in.empty()) return {};
  // Up to the limit is delivered, the first byte past it fails: the same at every split.
  if (body_total_ == limits_.max_body) return fail(ParseErrc::response_too_large);
  const auto n =
      static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), limits_.max_body - body_total_));
  body_total_ += n;
  return {ParseStatus::body_data, n, in.substr(0, n), ParseErrc::none};
}

ParseResult ResponseParser::finish(string_view buffered) {
  const ParseResult last = parse(buffered);  // whatever a complete message still needs
  if (last.status != ParseStatus::need_more || last.consumed != 0) return last;
  if (phase_ == Phase::until_close && buffered.empty()) return complete_message(0);
  if (phase_ == Phase::status_line && buffered.empty() && informational_ == 0) return {};
  return fail(ParseErrc::incomplete_response);
}

// The chunked body is the decoder's (parse_chunked.cpp); its end ends the message.
ParseResult ResponseParser::parse_chunked(string_view in) {
  const ParseResult r = chunked_.decode(in);
  if (r.status == ParseStatus::error) return fail(r.error);
  if (r.status == ParseStatus::body_data) body_total_ = chunked_.delivered();
  if (r.status == ParseStatus::message_complete) return complete_message(r.consumed);
  return r;
}

}  // namespace weft::http
