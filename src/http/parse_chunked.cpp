// Chunked bodies (RFC 9112 §7.1), for the request and the response parser alike:
// detail::ChunkedDecoder (parser.hpp).
#include <algorithm>
#include <limits>

#include "http/parse_chars.hpp"
#include "http/parse_internal.hpp"
#include "weft/http/parser.hpp"

namespace weft::http {

namespace {

using std::string_view;
constexpr auto npos = string_view::npos;

string_view skip_ows(string_view s) noexcept {
  while (!s.empty() && chars::is_ows(s.front())) s.remove_prefix(1);
  return s;
}

// chunk-size = 1*HEXDIG; removes the digits from `line`. Leading zeros are fine; a value
// that does not fit in 64 bits is rejected rather than wrapped.
ParseErrc take_chunk_size(string_view& line, std::uint64_t& size) noexcept {
  std::size_t i = 0;
  size = 0;
  for (; i < line.size(); ++i) {
    const int digit = chars::hex_value(line[i]);
    if (digit < 0) break;
    if (size > (std::numeric_limits<std::uint64_t>::max() >> 4))
      return ParseErrc::chunk_size_overflow;
    size = (size << 4) | static_cast<std::uint64_t>(digit);
  }
  if (i == 0) return ParseErrc::bad_chunk_size;
  line.remove_prefix(i);
  return ParseErrc::none;
}

bool is_qdtext(unsigned char c) noexcept {
  return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
         (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

bool is_quotable(unsigned char c) noexcept { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// Length of the quoted-string at the start of s (RFC 9110 §5.6.4), 0 when malformed.
std::size_t quoted_string_length(string_view s) noexcept {
  for (std::size_t i = 1; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (++i == s.size() || !is_quotable(static_cast<unsigned char>(s[i]))) return 0;
    } else if (!is_qdtext(c)) {
      return 0;
    }
  }
  return 0;
}

// chunk-ext-val = token / quoted-string
std::size_t extension_value_length(string_view s) noexcept {
  if (!s.empty() && s.front() == '"') return quoted_string_length(s);
  return chars::token_length(s);
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ). Extensions are
// validated so that no byte of the line is left uninterpreted, then ignored.
ParseErrc check_chunk_extensions(string_view s) noexcept {
  while (!s.empty()) {
    s = skip_ows(s);
    if (s.empty() || s.front() != ';') return ParseErrc::bad_chunk_extension;
    s = skip_ows(s.substr(1));
    const std::size_t name_len = chars::token_length(s);
    if (name_len == 0) return ParseErrc::bad_chunk_extension;
    s.remove_prefix(name_len);
    const string_view after_name = skip_ows(s);
    if (after_name.empty() || after_name.front() != '=') continue;
    const string_view value = skip_ows(after_name.substr(1));
    const std::size_t value_len = extension_value_length(value);
    if (value_len == 0) return ParseErrc::bad_chunk_extension;
    s = value.substr(value_len);
  }
  return ParseErrc::none;
}

}  // namespace

namespace detail {

void ChunkedDecoder::start(const Limits& limits) noexcept {
  limits_ = limits;
  error_ = ParseErrc::none;
  remaining_ = declared_ = delivered_ = 0;
  trailer_offsets_.clear();
  start_section(Step::chunk_line);
}

void ChunkedDecoder::start_section(Step step) noexcept {
  step_ = step;
  cursor_ = {};
}

ParseResult ChunkedDecoder::fail(ParseErrc e) noexcept {
  error_ = e;
  return {ParseStatus::error, 0, {}, e};
}

// Consumes framing until there is data to deliver, more bytes are needed, or the trailer
// section starts. `pos` counts the framing bytes consumed in this call.
ParseResult ChunkedDecoder::decode(string_view in) {
  std::size_t pos = 0;
  for (;;) {
    const string_view rest = in.substr(pos);
    std::size_t used = 0;
    switch (step_) {
      case Step::chunk_line:
        used = take_chunk_line(rest);
        break;
      case Step::chunk_data_end:
        used = take_chunk_crlf(rest);
        break;
      case Step::chunk_data:
        return deliver_data(rest, pos);
      case Step::trailer_fields:
        return decode_trailers(in, pos);
    }
    if (error_ != ParseErrc::none) return {ParseStatus::error, 0, {}, error_};
    if (used == 0) return {ParseStatus::need_more, pos, {}, ParseErrc::none};
    pos += used;
  }
}

// chunk-size [ chunk-ext ] CRLF. Returns the line's length with its CRLF, or 0 when the
// line is incomplete or invalid (then error_ says why).
std::size_t ChunkedDecoder::take_chunk_line(string_view rest) {
  const std::size_t lf = chars::find_lf(rest, cursor_.search_from);
  if (lf == npos) {
    cursor_.search_from = std::max(cursor_.search_from, rest.size());
    if (rest.size() > limits_.max_chunk_line) error_ = ParseErrc::chunk_line_too_long;
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
  error_ = e;
  return e == ParseErrc::none ? lf + 1 : 0;
}

ParseErrc ChunkedDecoder::on_chunk_line(string_view line) {
  std::uint64_t size = 0;
  if (const ParseErrc e = take_chunk_size(line, size); e != ParseErrc::none) return e;
  if (const ParseErrc e = check_chunk_extensions(line); e != ParseErrc::none) return e;
  if (size == 0) {  // last-chunk: the trailer section follows
    start_section(Step::trailer_fields);
    return ParseErrc::none;
  }
  // Written so that it cannot wrap.
  if (declared_ > limits_.max_body || size > limits_.max_body - declared_) return limits_.too_large;
  declared_ += size;
  remaining_ = size;
  step_ = Step::chunk_data;
  return ParseErrc::none;
}

// The CRLF after chunk data. Returns 2 when taken, 0 when incomplete or wrong.
std::size_t ChunkedDecoder::take_chunk_crlf(string_view rest) {
  if (rest.empty()) return 0;
  if (rest[0] != chars::CR) {
    error_ = rest[0] == chars::LF ? ParseErrc::bare_lf_in_chunked : ParseErrc::missing_chunk_crlf;
    return 0;
  }
  if (rest.size() < 2) return 0;
  if (rest[1] != chars::LF) {
    error_ = ParseErrc::missing_chunk_crlf;
    return 0;
  }
  start_section(Step::chunk_line);
  return 2;
}

ParseResult ChunkedDecoder::deliver_data(string_view rest, std::size_t pos) {
  if (rest.empty()) return {ParseStatus::need_more, pos, {}, ParseErrc::none};
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(rest.size(), remaining_));
  remaining_ -= n;
  delivered_ += n;
  if (remaining_ == 0) step_ = Step::chunk_data_end;
  return {ParseStatus::body_data, pos + n, rest.substr(0, n), ParseErrc::none};
}

// trailer-section = *( field-line CRLF ) CRLF, starting at `section_at`.
ParseResult ChunkedDecoder::decode_trailers(string_view in, std::size_t section_at) {
  const string_view section = in.substr(section_at);
  for (;;) {
    const std::size_t lf = chars::find_lf(section, cursor_.search_from);
    if (lf == npos) {
      cursor_.search_from = std::max(cursor_.search_from, section.size());
      if (section.size() > limits_.max_header_block) return fail(ParseErrc::header_block_too_large);
      return {ParseStatus::need_more, section_at, {}, ParseErrc::none};
    }
    if (const ParseErrc e = on_trailer_line(section, lf); e != ParseErrc::none) return fail(e);
    if (lf == cursor_.line_start + 1) {  // the empty line: done
      trailers_.clear();
      for (const FieldOffsets& o : trailer_offsets_)
        trailers_.push_back(internal::view_of(section.data(), o));
      trailer_offsets_.clear();
      return {ParseStatus::message_complete, section_at + lf + 1, {}, ParseErrc::none};
    }
    cursor_.line_start = cursor_.search_from = lf + 1;
  }
}

// One trailer line ending at `lf`; the empty final line is accepted and left to the caller.
ParseErrc ChunkedDecoder::on_trailer_line(string_view section, std::size_t lf) {
  if (lf + 1 > limits_.max_header_block) return ParseErrc::header_block_too_large;
  if (lf == cursor_.line_start || section[lf - 1] != chars::CR)
    return ParseErrc::bare_lf_in_chunked;
  const string_view line = section.substr(cursor_.line_start, lf - 1 - cursor_.line_start);
  if (line.empty()) return ParseErrc::none;
  internal::FieldLine field;
  if (const ParseErrc e = internal::split_field_line(line, field); e != ParseErrc::none) {
    return internal::blame_bare_cr(e, line);
  }
  if (trailer_offsets_.size() >= limits_.max_header_fields) return ParseErrc::too_many_fields;
  trailer_offsets_.push_back(internal::offsets_of(section.data(), field));
  return ParseErrc::none;
}

}  // namespace detail
}  // namespace weft::http
