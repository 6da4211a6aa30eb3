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
constexpr auto npos = string_view::npos;
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
      start_section(Phase::chunk_line);
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

ParseResult ResponseParser::parse_chunked(string_view in) {
  std::size_t pos = 0;
  for (;;) {
    const string_view rest = in.substr(pos);
    std::size_t used = 0;
    switch (phase_) {
      case Phase::chunk_line:
        used = take_chunk_line(rest);
        break;
      case Phase::chunk_data_end:
        used = take_chunk_crlf(rest);
        break;
      case Phase::chunk_data:
        return deliver_chunk_data(rest, pos);
      default:
        return parse_trailers(in, pos);
    }
    if (phase_ == Phase::failed) return {ParseStatus::error, 0, {}, error_};
    if (used == 0) return {ParseStatus::need_more, pos, {}, ParseErrc::none};
    pos += used;
  }
}

std::size_t ResponseParser::take_chunk_line(string_view rest) {
  const std::size_t lf = chars::find_lf(rest, cursor_.search_from);
  if (lf == npos) {
    cursor_.search_from = std::max(cursor_.search_from, rest.size());
    if (rest.size() > limits_.max_chunk_line) fail(ParseErrc::chunk_line_too_long);
    return 0;
  }
  ParseErrc e = ParseErrc::none;
  if (lf + 1 > limits_.max_chunk_line) {
    e = ParseErrc::chunk_line_too_long;
  } else if (lf == 0 || rest[lf - 1] != chars::CR) {
    e = ParseErrc::bare_lf_in_chunked;
  } else {
    e = on_chunk_line(rest.substr(0, lf - 1));
  }
  if (e != ParseErrc::none) fail(e);
  return e == ParseErrc::none ? lf + 1 : 0;
}

ParseErrc ResponseParser::on_chunk_line(string_view line) {
  std::uint64_t size = 0;
  if (const ParseErrc e = internal::take_chunk_size(line, size); e != ParseErrc::none) return e;
  if (const ParseErrc e = internal::check_chunk_extensions(line); e != ParseErrc::none) return e;
  if (size == 0) {
    start_section(Phase::trailer_fields);
    return ParseErrc::none;
  }
  if (size > limits_.max_body - body_total_) return ParseErrc::response_too_large;
  body_remaining_ = size;
  phase_ = Phase::chunk_data;
  return ParseErrc::none;
}

std::size_t ResponseParser::take_chunk_crlf(string_view rest) {
  if (rest.empty()) return 0;
  if (rest[0] != chars::CR) {
    fail(rest[0] == chars::LF ? ParseErrc::bare_lf_in_chunked : ParseErrc::missing_chunk_crlf);
    return 0;
  }
  if (rest.size() < 2) return 0;
  if (rest[1] != chars::LF) {
    fail(ParseErrc::missing_chunk_crlf);
    return 0;
  }
  start_section(Phase::chunk_line);
  return 2;
}

ParseResult ResponseParser::deliver_chunk_data(string_view rest, std::size_t pos) {
  if (rest.empty()) return {ParseStatus::need_more, pos, {}, ParseErrc::none};
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(rest.size(), body_remaining_));
  body_remaining_ -= n;
  body_total_ += n;
  if (body_remaining_ == 0) phase_ = Phase::chunk_data_end;
  return {ParseStatus::body_data, pos + n, rest.substr(0, n), ParseErrc::none};
}

ParseResult ResponseParser::parse_trailers(string_view in, std::size_t section_at) {
  const string_view section = in.substr(section_at);
  for (;;) {
    const std::size_t lf = chars::find_lf(section, cursor_.search_from);
    if (lf == npos) {
      cursor_.search_from = std::max(cursor_.search_from, section.size());
      if (section.size() > limits_.max_header_block) return fail(ParseErrc::header_block_too_large);
      return {ParseStatus::need_more, section_at, {}, ParseErrc::none};
    }
    const ParseErrc e = on_trailer_line(section, lf);
    if (e != ParseErrc::none) return fail(e);
    if (lf == cursor_.line_start + 1) {
      trailers_.clear();
      for (const detail::FieldOffsets& o : trailer_offsets_)
        trailers_.push_back(internal::view_of(section.data(), o));
      return complete_message(section_at + lf + 1);
    }
    cursor_.line_start = cursor_.search_from = lf + 1;
  }
}

ParseErrc ResponseParser::on_trailer_line(string_view section, std::size_t lf) {
  if (lf + 1 > limits_.max_header_block) return ParseErrc::header_block_too_large;
  if (lf == cursor_.line_start || section[lf - 1] != chars::CR)
    return ParseErrc::bare_lf_in_chunked;
  const string_view line = section.substr(cursor_.line_start, lf - 1 - cursor_.line_start);
  if (line.empty()) return ParseErrc::none;
  internal::FieldLine field;
  if (const ParseErrc e = internal::split_field_line(line, field); e != ParseErrc::none)
    return internal::blame_bare_cr(e, line);
  if (trailer_offsets_.size() >= limits_.max_header_fields) return ParseErrc::too_many_fields;
  trailer_offsets_.push_back(internal::offsets_of(section.data(), field));
  return ParseErrc::none;
}

}  // namespace weft::http
