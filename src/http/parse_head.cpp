// The request head: request line and header fields (RFC 9112 §2–§5, RFC 9110 §5).
//
// The head is processed one complete line at a time as lines arrive: each line is
// validated once, its fields stored as offsets, and the framing facts gathered. Whether a
// request is rejected — and with which error — therefore depends only on its bytes, never
// on how they were split across reads: limits are checked before a line's content, both
// for complete lines and for a partial last line.
#include <algorithm>
#include <limits>

#include "http/parse_chars.hpp"
#include "http/parse_internal.hpp"
#include "weft/http/parser.hpp"

namespace weft::http {

namespace {

using chars::is_ows;
using std::string_view;

constexpr auto npos = string_view::npos;

// A line's content: from `start` up to the LF ending at `line_end`, minus a CR right
// before the LF (a bare LF is accepted as a line terminator in the head, RFC 9112 §2.2).
string_view line_content(string_view in, std::size_t start, std::size_t line_end) noexcept {
  string_view line = in.substr(start, line_end - 1 - start);
  if (!line.empty() && line.back() == chars::CR) line.remove_suffix(1);
  return line;
}

// Reports a CR inside a rejected line as what it is: the most likely cause and the one
// that matters for smuggling.
ParseErrc blame_bare_cr(ParseErrc e, string_view line) noexcept {
  if (e != ParseErrc::none && line.find(chars::CR) != npos) return ParseErrc::bare_cr;
  return e;
}

std::uint32_t u32(std::ptrdiff_t offset) noexcept { return static_cast<std::uint32_t>(offset); }

// HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. Only 1.0 and 1.1 are served.
ParseErrc parse_version(string_view v, std::uint8_t& minor) noexcept {
  const bool well_formed = v.size() == 8 && v.substr(0, 5) == "HTTP/" && chars::is_digit(v[5]) &&
                           v[6] == '.' && chars::is_digit(v[7]);
  if (!well_formed) return ParseErrc::bad_version;
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return ParseErrc::unsupported_version;
  minor = static_cast<std::uint8_t>(v[7] - '0');
  return ParseErrc::none;
}

// absolute-form starts with a scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
bool starts_with_scheme(string_view target) noexcept {
  if (target.empty() || !chars::is_alpha(static_cast<unsigned char>(target[0]))) return false;
  for (char c : target.substr(1)) {
    if (c == ':') return true;
    const bool scheme_char = chars::is_alpha(static_cast<unsigned char>(c)) ||
                             chars::is_digit(static_cast<unsigned char>(c)) || c == '+' ||
                             c == '-' || c == '.';
    if (!scheme_char) return false;
  }
  return false;
}

// The four request-target forms of RFC 9112 §3.2 and which methods may use them.
bool target_form_fits(string_view method, string_view target) noexcept {
  if (method == "CONNECT") {  // authority-form: host ":" port
    return target.find(':') != npos && target.find('/') == npos;
  }
  if (target == "*") return method == "OPTIONS";
  return target.front() == '/' || starts_with_scheme(target);
}

struct RequestLine {
  string_view method, target, version;
};

// request-line = method SP request-target SP HTTP-version, single SPs.
ParseErrc split_request_line(string_view line, RequestLine& out) noexcept {
  const std::size_t sp1 = line.find(' ');
  if (sp1 == npos || sp1 == 0) return ParseErrc::bad_request_line;
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == npos || sp2 == sp1 + 1) return ParseErrc::bad_request_line;
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  out.version = line.substr(sp2 + 1);
  return ParseErrc::none;
}

ParseErrc check_request_line(const RequestLine& rl, std::uint8_t& minor) noexcept {
  if (!chars::is_token(rl.method)) return ParseErrc::bad_method;
  if (chars::has_bad_target_byte(rl.target)) return ParseErrc::bad_target;
  if (!target_form_fits(rl.method, rl.target)) return ParseErrc::bad_target;
  const ParseErrc e = parse_version(rl.version, minor);
  if (e == ParseErrc::none && rl.method == "CONNECT") return ParseErrc::connect_not_supported;
  return e;  // CONNECT: this is an origin server, not a tunnel
}

// 1*DIGIT that fits in 64 bits.
bool parse_decimal(string_view digits, std::uint64_t& out) noexcept {
  if (digits.empty()) return false;
  std::uint64_t value = 0;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (char c : digits) {
    if (!chars::is_digit(static_cast<unsigned char>(c))) return false;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (kMax - digit) / 10) return false;
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

// Content-Length = 1*DIGIT; also accepts a list of identical values ("5, 5") and repeated
// identical lines, which RFC 9110 §8.6 allows a recipient to collapse into one.
ParseErrc note_content_length(string_view value, detail::HeadFacts& facts) noexcept {
  ParseErrc result = ParseErrc::none;
  chars::for_each_element(value, [&](string_view element) {
    std::uint64_t length = 0;
    if (!parse_decimal(element, length)) {
      result = ParseErrc::bad_content_length;
    } else if (facts.has_content_length && length != facts.content_length) {
      result = ParseErrc::conflicting_content_length;
    }
    facts.has_content_length = true;
    facts.content_length = length;
    return result == ParseErrc::none;
  });
  return result;
}

// One transfer-coding of a Transfer-Encoding list: a token, optionally with parameters.
// Returns false when the element is malformed.
bool note_transfer_coding(string_view element, detail::HeadFacts& facts) noexcept {
  const std::size_t n = chars::token_length(element);
  const string_view params = chars::trim_ows(element.substr(n));
  if (n == 0 || (!params.empty() && params.front() != ';')) return false;
  if (!chars::iequals(element.substr(0, n), "chunked")) {
    facts.chunked_last = false;
    facts.other_coding = true;
    return true;
  }
  // chunked takes no parameters and must not be applied twice (RFC 9112 §7.1).
  if (!params.empty() || facts.chunked_seen) return false;
  facts.chunked_seen = facts.chunked_last = true;
  return true;
}

// Transfer-Encoding = #transfer-coding. Empty list elements are ignored (RFC 9110 §5.6.1)
// but at least one coding is required. The framing verdict waits for the end of the head.
ParseErrc note_transfer_encoding(string_view value, detail::HeadFacts& facts) noexcept {
  facts.has_transfer_encoding = true;
  bool any_coding = false;
  const bool well_formed = chars::for_each_element(value, [&](string_view element) {
    if (element.empty()) return true;
    any_coding = true;
    return note_transfer_coding(element, facts);
  });
  return well_formed && any_coding ? ParseErrc::none : ParseErrc::bad_transfer_encoding;
}

void note_connection(string_view value, detail::HeadFacts& facts) noexcept {
  chars::for_each_element(value, [&](string_view option) {
    facts.connection_close |= chars::iequals(option, "close");
    facts.connection_keep_alive |= chars::iequals(option, "keep-alive");
    facts.connection_upgrade |= chars::iequals(option, "upgrade");
    return true;
  });
}

}  // namespace

namespace internal {

// The response parser (parse_response.cpp) shares these rules with the request side.
ParseErrc note_content_length(string_view value, detail::HeadFacts& facts) noexcept {
  return weft::http::note_content_length(value, facts);
}
ParseErrc note_transfer_encoding(string_view value, detail::HeadFacts& facts) noexcept {
  return weft::http::note_transfer_encoding(value, facts);
}
void note_connection(string_view value, detail::HeadFacts& facts) noexcept {
  weft::http::note_connection(value, facts);
}
ParseErrc parse_version(string_view version, std::uint8_t& minor) noexcept {
  return weft::http::parse_version(version, minor);
}
string_view line_content(string_view in, std::size_t start, std::size_t line_end) noexcept {
  return weft::http::line_content(in, start, line_end);
}
ParseErrc blame_bare_cr(ParseErrc e, string_view line) noexcept {
  return weft::http::blame_bare_cr(e, line);
}

ParseErrc split_field_line(string_view line, FieldLine& out) noexcept {
  // A line starting with whitespace is obs-fold (or whitespace before the first field):
  // rejected, RFC 9112 §5.2 / §2.2.
  if (is_ows(line.front())) return ParseErrc::obs_fold;
  const std::size_t colon = chars::token_length(line);
  if (colon == line.size() || line.find(':', colon) == npos) return ParseErrc::missing_colon;
  if (line[colon] != ':') {
    const string_view after_name = chars::trim_ows(line.substr(colon));
    const bool ows_then_colon =
        is_ows(line[colon]) && !after_name.empty() && after_name.front() == ':';
    return ows_then_colon ? ParseErrc::whitespace_before_colon : ParseErrc::bad_field_name;
  }
  if (colon == 0) return ParseErrc::bad_field_name;
  out.name = line.substr(0, colon);
  out.value = chars::trim_ows(line.substr(colon + 1));
  if (chars::has_bad_value_byte(out.value)) return ParseErrc::bad_field_value;
  return ParseErrc::none;
}

}  // namespace internal

ParseResult RequestParser::parse_head(string_view in) {
  for (;;) {
    const std::size_t lf = chars::find_lf(in, cursor_.search_from);
    if (lf == npos) return head_need_more(in.size());
    const std::size_t line_end = lf + 1;
    const ParseErrc e = phase_ == Phase::request_line ? on_request_line(in, line_end)
                                                      : on_header_line(in, line_end);
    if (e != ParseErrc::none) return fail(e);
    if (phase_ == Phase::body_start) return complete_head(in, line_end);
    cursor_.line_start = cursor_.search_from = line_end;
  }
}

// No LF in the rest of the buffer: remember how far we looked, and reject a line that is
// already longer than its limit allows (any LF still to come would be past it). The scan
// position never moves back, even if a caller breaks the contract and passes fewer bytes.
ParseResult RequestParser::head_need_more(std::size_t available) {
  cursor_.search_from = std::max(cursor_.search_from, available);
  if (phase_ == Phase::request_line && available > limits_.max_request_line) {
    return fail(ParseErrc::request_line_too_long);
  }
  if (phase_ == Phase::header_fields && available > cursor_.block_start &&
      available - cursor_.block_start > limits_.max_header_block) {
    return fail(ParseErrc::header_block_too_large);
  }
  return {};
}

// Leading empty lines count towards the limit: it is measured from the buffer start.
ParseErrc RequestParser::on_request_line(string_view in, std::size_t line_end) {
  if (line_end > limits_.max_request_line) return ParseErrc::request_line_too_long;
  const string_view line = line_content(in, cursor_.line_start, line_end);
  if (line.empty()) return ParseErrc::none;  // an empty line before the request: skip it
  RequestLine rl;
  ParseErrc e = split_request_line(line, rl);
  if (e == ParseErrc::none) e = check_request_line(rl, request_line_.version_minor);
  if (e != ParseErrc::none) return blame_bare_cr(e, line);
  request_line_.method_at = u32(rl.method.data() - in.data());
  request_line_.method_len = u32(static_cast<std::ptrdiff_t>(rl.method.size()));
  request_line_.target_at = u32(rl.target.data() - in.data());
  request_line_.target_len = u32(static_cast<std::ptrdiff_t>(rl.target.size()));
  phase_ = Phase::header_fields;
  cursor_.block_start = line_end;
  return ParseErrc::none;
}

ParseErrc RequestParser::on_header_line(string_view in, std::size_t line_end) {
  if (line_end - cursor_.block_start > limits_.max_header_block) {
    return ParseErrc::header_block_too_large;
  }
  const string_view line = line_content(in, cursor_.line_start, line_end);
  if (line.empty()) {  // the empty line that ends the head
    phase_ = Phase::body_start;
    return ParseErrc::none;
  }
  internal::FieldLine field;
  if (const ParseErrc e = internal::split_field_line(line, field); e != ParseErrc::none) {
    return blame_bare_cr(e, line);
  }
  if (field_offsets_.size() >= limits_.max_header_fields) return ParseErrc::too_many_fields;
  field_offsets_.push_back(internal::offsets_of(in.data(), field));
  return note_field(field.name, field.value, field_offsets_.back().value_at);
}

// Gathers what the fields that shape framing and the connection say. Dispatching on the
// name's length first keeps the common case (any other field) to one switch.
ParseErrc RequestParser::note_field(string_view name, string_view value, std::size_t value_at) {
  switch (name.size()) {
    case 4:
      if (!chars::iequals(name, "host")) break;
      if (++facts_.host_count > 1) return ParseErrc::duplicate_host;
      facts_.host_at = static_cast<std::uint32_t>(value_at);
      facts_.host_len = static_cast<std::uint32_t>(value.size());
      break;
    case 6:
      if (chars::iequals(name, "expect")) {
        const bool go_on = chars::iequals(value, "100-continue");
        facts_.expect_continue |= go_on;
        facts_.expect_other |= !go_on;
      }
      break;
    case 7:
      if (chars::iequals(name, "upgrade")) facts_.has_upgrade = !value.empty();
      break;
    case 10:
      if (chars::iequals(name, "connection")) note_connection(value, facts_);
      break;
    case 14:
      if (chars::iequals(name, "content-length")) return note_content_length(value, facts_);
      break;
    case 17:
      if (chars::iequals(name, "transfer-encoding")) return note_transfer_encoding(value, facts_);
      break;
    default:
      break;
  }
  return ParseErrc::none;
}

namespace {

bool is_hex(char c) noexcept { return chars::hex_value(c) >= 0; }

// reg-name = *( unreserved / pct-encoded / sub-delims ) (RFC 3986 §3.2.2), except ",":
// a comma in Host is the sign of several values folded into one, which RFC 9112 §3.2
// forbids, so it is refused rather than guessed at.
bool valid_reg_name(string_view s) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
      continue;
    }
    const bool plain = chars::is_alpha(static_cast<unsigned char>(c)) ||
                       chars::is_digit(static_cast<unsigned char>(c)) ||
                       string_view("-._~!$&'()*+;=").find(c) != npos;
    if (!plain) return false;
  }
  return true;
}

// IP-literal = "[" ( IPv6address / IPvFuture ) "]": the characters those may hold.
bool valid_ip_literal(string_view s) noexcept {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  for (char c : s.substr(1, s.size() - 2)) {
    if (!is_hex(c) && c != ':' && c != '.' && (c | 0x20) != 'v') return false;
  }
  return true;
}

// uri-host [ ":" port ] (RFC 9112 §3.2, RFC 9110 §7.2); an empty value is allowed.
bool valid_host(string_view s) noexcept {
  std::size_t colon = s.rfind(':');
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == npos) return false;
    colon = close + 1 < s.size() ? close + 1 : npos;
    if (colon != npos && s[colon] != ':') return false;
    if (!valid_ip_literal(s.substr(0, close + 1))) return false;
  } else if (!valid_reg_name(s.substr(0, colon))) {
    return false;
  }
  if (colon == npos) return true;
  const string_view port = s.substr(colon + 1);
  return std::all_of(port.begin(), port.end(),
                     [](char c) { return chars::is_digit(static_cast<unsigned char>(c)); });
}

// The Host value must be valid; an absolute-form target ("http://a:1/p") must have an
// authority without userinfo, and that authority replaces Host (RFC 9112 §3.2.2).
ParseErrc check_authority(RequestHead& head) noexcept {
  if (!valid_host(head.host)) return ParseErrc::bad_host;
  if (head.target.front() == '/' || head.target == "*") return ParseErrc::none;
  const std::size_t start = head.target.find("://");
  if (start == npos) return ParseErrc::bad_target;
  string_view authority = head.target.substr(start + 3);
  authority = authority.substr(0, authority.find_first_of("/?"));
  if (authority.find('@') != npos) return ParseErrc::bad_target;
  if (authority.empty() || !valid_host(authority)) return ParseErrc::bad_host;
  head.host = authority;
  return ParseErrc::none;
}

}  // namespace

// Checks that need the whole head: Host presence and the message framing (RFC 9112 §6).
ParseErrc RequestParser::check_head() const {
  const bool http11 = request_line_.version_minor == 1;
  if (http11 && facts_.host_count == 0) return ParseErrc::missing_host;
  if (http11 && facts_.expect_other) return ParseErrc::unsupported_expectation;
  if (!facts_.has_transfer_encoding) return ParseErrc::none;
  if (!http11) return ParseErrc::transfer_encoding_on_http10;
  if (facts_.has_content_length) return ParseErrc::content_length_with_transfer_encoding;
  if (!facts_.chunked_last) return ParseErrc::transfer_encoding_not_chunked;
  if (facts_.other_coding) return ParseErrc::unsupported_transfer_coding;
  return ParseErrc::none;
}

ParseResult RequestParser::complete_head(string_view in, std::size_t head_end) {
  if (const ParseErrc e = check_head(); e != ParseErrc::none) return fail(e);
  build_head(in);
  if (const ParseErrc e = check_authority(head_); e != ParseErrc::none) return fail(e);
  max_body_ = limits_.max_body;
  return {ParseStatus::head_complete, head_end, {}, ParseErrc::none};
}

// Turns the stored offsets into views of this call's buffer.
void RequestParser::build_head(string_view in) {
  const char* base = in.data();
  fields_.clear();
  for (const detail::FieldOffsets& o : field_offsets_)
    fields_.push_back(internal::view_of(base, o));
  chunked_.clear_trailers();
  const bool http11 = request_line_.version_minor == 1;
  head_.method = string_view(base + request_line_.method_at, request_line_.method_len);
  head_.target = string_view(base + request_line_.target_at, request_line_.target_len);
  head_.version_minor = request_line_.version_minor;
  head_.fields = fields_;
  head_.host = string_view(base + facts_.host_at, facts_.host_len);
  head_.framing = facts_.has_transfer_encoding ? BodyFraming::chunked
                  : facts_.has_content_length  ? BodyFraming::content_length
                                               : BodyFraming::none;
  head_.content_length = facts_.has_content_length ? facts_.content_length : 0;
  head_.keep_alive = !facts_.connection_close && (http11 || facts_.connection_keep_alive);
  head_.expect_continue = http11 && facts_.expect_continue;  // HTTP/1.0: ignored (§10.1.1)
  head_.upgrade = http11 && facts_.has_upgrade && facts_.connection_upgrade;
}

}  // namespace weft::http
