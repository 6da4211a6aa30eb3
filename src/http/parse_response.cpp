// ResponseParser: the status line, header fields and framing of a response (RFC 9112 §4,
// §5, §6.3). Line handling, field rules and limits are the request side's
// (parse_head.cpp); only the first line and the framing verdict differ.
#include <algorithm>

#include "http/parse_chars.hpp"
#include "http/parse_internal.hpp"
#include "weft/http/response_parser.hpp"

namespace weft::http {

namespace {

using std::string_view;
constexpr auto npos = string_view::npos;

bool valid_reason(string_view reason) noexcept { return !chars::has_bad_value_byte(reason); }

// status-code = 3DIGIT, 100..599 (RFC 9110 §15: the first digit is the class).
bool parse_status_code(string_view code, std::uint16_t& status) noexcept {
  if (code.size() != 3) return false;
  unsigned value = 0;
  for (char c : code) {
    if (!chars::is_digit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 100 || value > 599) return false;
  status = static_cast<std::uint16_t>(value);
  return true;
}

bool no_body_status(std::uint16_t status) noexcept {
  return status < 200 || status == 204 || status == 304;
}

}  // namespace

std::string_view ResponseHead::field(std::string_view name) const noexcept {
  for (const HeaderField& f : fields) {
    if (chars::iequals(f.name, name)) return f.value;
  }
  return {};
}

bool ResponseHead::has_field(std::string_view name) const noexcept {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const HeaderField& f) { return chars::iequals(f.name, name); });
}

ResponseParser::ResponseParser(ParserLimits limits) : limits_(limits) {
  constexpr std::size_t kMaxSection = std::size_t{1} << 30;  // offsets are 32 bits
  limits_.max_request_line = std::min(limits_.max_request_line, kMaxSection);
  limits_.max_header_block = std::min(limits_.max_header_block, kMaxSection);
}

void ResponseParser::start(std::string_view method) noexcept {
  head_request_ = method == "HEAD";
  informational_ = 0;
  saw_continue_ = false;
}

ParseResult ResponseParser::parse(std::string_view buffered) {
  switch (phase_) {
    case Phase::status_line:
    case Phase::header_fields:
      return parse_head(buffered);
    case Phase::failed:
      return {ParseStatus::error, 0, {}, error_};
    default:
      return parse_body(buffered);
  }
}

ParseResult ResponseParser::parse_head(string_view in) {
  for (;;) {
    const std::size_t lf = chars::find_lf(in, cursor_.search_from);
    if (lf == npos) return head_need_more(in.size());
    const std::size_t line_end = lf + 1;
    const ParseErrc e =
        phase_ == Phase::status_line ? on_status_line(in, line_end) : on_header_line(in, line_end);
    if (e != ParseErrc::none) return fail(e);
    if (phase_ == Phase::body_start) return complete_head(in, line_end);
    cursor_.line_start = cursor_.search_from = line_end;
  }
}

ParseResult ResponseParser::head_need_more(std::size_t available) {
  cursor_.search_from = std::max(cursor_.search_from, available);
  if (phase_ == Phase::status_line && available > limits_.max_request_line) {
    return fail(ParseErrc::bad_status_line);
  }
  if (phase_ == Phase::header_fields && available > cursor_.block_start &&
      available - cursor_.block_start > limits_.max_header_block) {
    return fail(ParseErrc::header_block_too_large);
  }
  return {};
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ]. No empty lines before
// it: unlike a server between requests, a client has nothing to skip.
ParseErrc ResponseParser::on_status_line(string_view in, std::size_t line_end) {
  if (line_end > limits_.max_request_line) return ParseErrc::bad_status_line;
  const string_view line = internal::line_content(in, 0, line_end);
  if (line.size() < 12 || line[8] != ' ') {
    return internal::blame_bare_cr(ParseErrc::bad_status_line, line);
  }
  if (const ParseErrc e = internal::parse_version(line.substr(0, 8), status_line_.version_minor);
      e != ParseErrc::none) {
    return e;
  }
  if (!parse_status_code(line.substr(9, 3), status_line_.status)) {
    return internal::blame_bare_cr(ParseErrc::bad_status_code, line);
  }
  string_view reason;
  if (line.size() > 12) {
    if (line[12] != ' ') return internal::blame_bare_cr(ParseErrc::bad_status_line, line);
    reason = line.substr(13);
  }
  if (!valid_reason(reason)) return internal::blame_bare_cr(ParseErrc::bad_status_line, line);
  status_line_.reason_at = static_cast<std::uint32_t>(reason.data() - in.data());
  status_line_.reason_len = static_cast<std::uint32_t>(reason.size());
  phase_ = Phase::header_fields;
  cursor_.block_start = line_end;
  return ParseErrc::none;
}

ParseErrc ResponseParser::on_header_line(string_view in, std::size_t line_end) {
  if (line_end - cursor_.block_start > limits_.max_header_block) {
    return ParseErrc::header_block_too_large;
  }
  const string_view line = internal::line_content(in, cursor_.line_start, line_end);
  if (line.empty()) {
    phase_ = Phase::body_start;
    return ParseErrc::none;
  }
  internal::FieldLine field;
  if (const ParseErrc e = internal::split_field_line(line, field); e != ParseErrc::none) {
    return internal::blame_bare_cr(e, line);
  }
  if (field_offsets_.size() >= limits_.max_header_fields) return ParseErrc::too_many_fields;
  field_offsets_.push_back(internal::offsets_of(in.data(), field));
  return note_field(field.name, field.value);
}

ParseErrc ResponseParser::note_field(string_view name, string_view value) {
  switch (name.size()) {
    case 10:
      if (chars::iequals(name, "connection")) internal::note_connection(value, facts_);
      break;
    case 14:
      if (chars::iequals(name, "content-length"))
        return internal::note_content_length(value, facts_);
      break;
    case 17:
      if (chars::iequals(name, "transfer-encoding"))
        return internal::note_transfer_encoding(value, facts_);
      break;
    default:
      break;
  }
  return ParseErrc::none;
}

// Conflicting framing is refused even when the status says no body follows: the bytes
// of a connection that carries it cannot be trusted for the next response either.
ParseErrc ResponseParser::check_framing() const {
  if (!facts_.has_transfer_encoding) return ParseErrc::none;
  if (status_line_.version_minor == 0) return ParseErrc::transfer_encoding_on_http10;
  if (facts_.has_content_length) return ParseErrc::content_length_with_transfer_encoding;
  return ParseErrc::none;
}

ParseResult ResponseParser::complete_head(string_view in, std::size_t head_end) {
  if (const ParseErrc e = check_framing(); e != ParseErrc::none) return fail(e);
  const std::uint16_t status = status_line_.status;
  if (status == 101) return fail(ParseErrc::unexpected_switching_protocols);
  if (status < 200) return skip_interim(in, head_end);
  build_head(in);
  return {ParseStatus::head_complete, head_end, {}, ParseErrc::none};
}

// An interim response: forgotten, and parsing goes on with what follows it in this call.
ParseResult ResponseParser::skip_interim(string_view in, std::size_t head_end) {
  constexpr std::size_t kMaxInterim = 32;  // also bounds this recursion
  if (++informational_ > kMaxInterim) return fail(ParseErrc::too_many_interim_responses);
  saw_continue_ |= status_line_.status == 100;
  forget_head();
  ParseResult next = parse_head(in.substr(head_end));
  if (next.status != ParseStatus::error) next.consumed += head_end;
  return next;
}

void ResponseParser::build_head(string_view in) {
  const char* base = in.data();
  fields_.clear();
  for (const detail::FieldOffsets& o : field_offsets_)
    fields_.push_back(internal::view_of(base, o));
  chunked_.clear_trailers();
  const bool http11 = status_line_.version_minor == 1;
  head_.version_minor = status_line_.version_minor;
  head_.status = status_line_.status;
  head_.reason = string_view(base + status_line_.reason_at, status_line_.reason_len);
  head_.fields = fields_;
  head_.content_length = 0;
  if (head_request_ || no_body_status(head_.status)) {
    head_.framing = ResponseFraming::none;
  } else if (facts_.has_transfer_encoding) {
    head_.framing = facts_.chunked_last ? ResponseFraming::chunked : ResponseFraming::until_close;
  } else if (facts_.has_content_length) {
    head_.framing = ResponseFraming::content_length;
    head_.content_length = facts_.content_length;
  } else {
    head_.framing = ResponseFraming::until_close;
  }
  head_.keep_alive = !facts_.connection_close && (http11 || facts_.connection_keep_alive) &&
                     head_.framing != ResponseFraming::until_close;
}

// Back to "expecting a status line" at the first unconsumed byte; head(), fields and
// trailers stay until the next head completes.
void ResponseParser::forget_head() noexcept {
  phase_ = Phase::status_line;
  cursor_ = {};
  status_line_ = {};
  facts_ = {};
  field_offsets_.clear();
}

ParseResult ResponseParser::fail(ParseErrc e) {
  phase_ = Phase::failed;
  error_ = e;
  return {ParseStatus::error, 0, {}, e};
}

void ResponseParser::start_section(Phase phase) noexcept {
  phase_ = phase;
  cursor_ = {};
}

ParseResult ResponseParser::complete_message(std::size_t consumed) {
  forget_head();
  head_request_ = false;
  return {ParseStatus::message_complete, consumed, {}, ParseErrc::none};
}

void ResponseParser::reset() noexcept {
  forget_head();
  error_ = ParseErrc::none;
  head_request_ = false;
  informational_ = 0;
  saw_continue_ = false;
  fields_.clear();
  chunked_.clear_trailers();
  head_ = {};
  body_remaining_ = body_total_ = 0;
}

}  // namespace weft::http
