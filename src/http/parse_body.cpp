// The request body: Content-Length bodies and chunked bodies with extensions and trailers
// (RFC 9112 §6, §7.1).
//
// Body bytes are handed out as views as soon as they are buffered, also partial chunks, so
// a large body streams through without being collected. Chunk framing (size lines, the CRLF
// after the data, the trailer section) is consumed silently; one call delivers at most one
// piece of data. Inside a chunked body every line must end in CRLF.
#include <algorithm>

#include "weft/http/parser.hpp"

namespace weft::http {

namespace {
using std::string_view;
}  // namespace

ParseResult RequestParser::parse_body(string_view in) {
  switch (phase_) {
    case Phase::body_start:
      return start_body(in);
    case Phase::fixed_body:
      return parse_fixed_body(in);
    default:
      return parse_chunked(in);
  }
}

// The body limit is applied here, not at head_complete, so that set_max_body() called in
// between decides for this request.
ParseResult RequestParser::start_body(string_view in) {
  switch (head_.framing) {
    case BodyFraming::content_length:
      if (head_.content_length > max_body_) return fail(ParseErrc::body_too_large);
      body_remaining_ = head_.content_length;
      phase_ = Phase::fixed_body;
      return parse_fixed_body(in);
    case BodyFraming::chunked:
      chunked_.start({limits_.max_chunk_line, limits_.max_header_block, limits_.max_header_fields,
                      max_body_, ParseErrc::body_too_large});
      phase_ = Phase::chunked;
      return parse_chunked(in);
    case BodyFraming::none:
      break;
  }
  return complete_message(0);
}

ParseResult RequestParser::parse_fixed_body(string_view in) {
  if (body_remaining_ == 0) return complete_message(0);
  if (in.empty()) return {};
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), body_remaining_));
  body_remaining_ -= n;
  return {ParseStatus::body_data, n, in.substr(0, n), ParseErrc::none};
}

// The chunked body is the decoder's (parse_chunked.cpp); its end ends the message.
ParseResult RequestParser::parse_chunked(string_view in) {
  const ParseResult r = chunked_.decode(in);
  if (r.status == ParseStatus::error) return fail(r.error);
  if (r.status == ParseStatus::message_complete) return complete_message(r.consumed);
  return r;
}

}  // namespace weft::http
