// The multipart/form-data parser (multipart.hpp): RFC 2046 §5.1.1's body syntax with
// RFC 7578's rules for form data. Pure: no I/O, no loop.
#include <weft/http/multipart.hpp>

#include "http/parse_chars.hpp"

#include <weft/http/uri.hpp>

namespace weft::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";

[[noreturn]] void malformed(const std::string& what) {
  throw HttpError(400, "malformed multipart body: " + what);
}

[[noreturn]] void too_large(const std::string& what, std::uint64_t limit) {
  throw HttpError(413, "multipart " + what + " larger than " + std::to_string(limit) + " bytes");
}

// RFC 2046 §5.1.1: bchars := bcharsnospace / " ", bcharsnospace := DIGIT / ALPHA / "'" /
// "(" / ")" / "+" / "_" / "," / "-" / "." / "/" / ":" / "=" / "?".
bool is_bchar(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (chars::is_digit(u) || chars::is_alpha(u)) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

bool valid_boundary(std::string_view b) noexcept {
  if (b.empty() || b.size() > 70 || b.back() == ' ') return false;
  for (char c : b) {
    if (!is_bchar(c)) return false;
  }
  return true;
}

// A parameter list after a media type or disposition type: `; a=b; c="d\"e"` (RFC 9110
// §5.6.6, quoted-string with quoted-pair). Calls fn(lowercase-insensitive name, value).
// Returns false on a syntax error.
template <class Fn>
bool for_each_param(std::string_view rest, Fn&& fn) {
  for (;;) {
    rest = chars::trim_ows(rest);
    if (rest.empty()) return true;
    if (rest.front() != ';') return false;
    rest = chars::trim_ows(rest.substr(1));
    if (rest.empty()) return true;  // a trailing ';'
    const std::size_t name_len = chars::token_length(rest);
    if (name_len == 0 || name_len >= rest.size() || rest[name_len] != '=') return false;
    const std::string_view name = rest.substr(0, name_len);
    rest.remove_prefix(name_len + 1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      std::size_t i = 1;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        value += rest[i];
      }
      if (i >= rest.size()) return false;  // no closing quote
      rest.remove_prefix(i + 1);
    } else {
      const std::size_t len = chars::token_length(rest);
      if (len == 0) return false;
      value.assign(rest.substr(0, len));
      rest.remove_prefix(len);
    }
    fn(name, std::move(value));
  }
}

// RFC 8187's ext-value ("UTF-8''na%C3%AFve.txt"): the charset and language dropped, the
// rest percent-decoded; nullopt when it is not of that form.
std::optional<std::string> decode_ext_value(std::string_view v) {
  const std::size_t q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  const std::size_t q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  return decode_component(v.substr(q2 + 1), Plus::literal);
}

void parse_disposition(std::string_view value, PartHead& head) {
  const std::size_t semi = value.find(';');
  const std::string_view type = chars::trim_ows(value.substr(0, semi));
  if (!chars::iequals(type, "form-data")) {
    malformed("a part's Content-Disposition is '" + std::string(type) + "', not form-data");
  }
  bool named = false;
  const bool ok = for_each_param(
      value.substr(std::min(semi, value.size())), [&](std::string_view n, std::string v) {
        if (chars::iequals(n, "name")) {
          head.name = std::move(v);
          named = true;
        } else if (chars::iequals(n, "filename") && !head.has_filename) {
          head.filename = std::move(v);
          head.has_filename = true;
        } else if (chars::iequals(n, "filename*")) {  // preferred over filename when valid
          if (std::optional<std::string> d = decode_ext_value(v)) {
            head.filename = std::move(*d);
            head.has_filename = true;
          }
        }
      });
  if (!ok) malformed("a part's Content-Disposition parameters do not parse");
  if (!named) malformed("a part's Content-Disposition has no name parameter");
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  const std::string_view type = chars::trim_ows(content_type.substr(0, semi));
  if (!chars::iequals(type, "multipart/form-data")) return std::nullopt;
  std::optional<std::string> boundary;
  const bool ok = for_each_param(content_type.substr(std::min(semi, content_type.size())),
                                 [&](std::string_view n, std::string v) {
                                   if (chars::iequals(n, "boundary")) boundary = std::move(v);
                                 });
  if (!ok) throw HttpError(400, "multipart/form-data: the Content-Type parameters do not parse");
  if (!boundary) throw HttpError(400, "multipart/form-data without a boundary parameter");
  if (!valid_boundary(*boundary)) {
    throw HttpError(400,
                    "multipart/form-data: invalid boundary (1-70 characters of RFC 2046's set)");
  }
  return boundary;
}

MultipartParser::MultipartParser(std::string boundary, MultipartLimits limits)
    : delimiter_("\r\n--" + std::move(boundary)), limits_(limits), buf_("\r\n") {
  // buf_ starts with a CRLF so that a delimiter at the very start of the body (no
  // preamble) is found like every other: "CRLF--boundary".
}

void MultipartParser::feed(std::string_view piece) {
  total_ += piece.size();
  if (total_ > limits_.max_total_size) too_large("body", limits_.max_total_size);
  if (state_ == State::epilogue) return;  // ignored (RFC 2046: the epilogue has no meaning)
  buf_.erase(0, off_);
  off_ = 0;
  buf_.append(piece);
}

std::optional<MultipartParser::Event> MultipartParser::next() {
  if (end_pending_) {
    end_pending_ = false;
    return Event{Event::Kind::part_end, {}};
  }
  for (;;) {
    std::optional<Event> ev;
    const State before = state_;
    const std::size_t off_before = off_;
    switch (state_) {
      case State::preamble:
        ev = scan_preamble();
        break;
      case State::after_delimiter:
        ev = scan_after_delimiter();
        break;
      case State::headers:
        ev = scan_headers();
        break;
      case State::data:
        ev = scan_data();
        break;
      case State::epilogue:
        return std::nullopt;
    }
    if (ev) return ev;
    if (state_ == before && off_ == off_before) return std::nullopt;  // needs input
  }
}

void MultipartParser::finish() const {
  if (state_ == State::epilogue) return;
  if (state_ == State::preamble) malformed("no delimiter (--boundary) in the body");
  malformed("the body ended before the closing delimiter");
}

// Everything before the first delimiter is dropped; only a tail that may begin one stays.
std::optional<MultipartParser::Event> MultipartParser::scan_preamble() {
  const std::size_t at = buf_.find(delimiter_, off_);
  if (at == std::string::npos) {
    if (buf_.size() - off_ >= delimiter_.size()) off_ = buf_.size() - (delimiter_.size() - 1);
    return std::nullopt;
  }
  off_ = at + delimiter_.size();
  state_ = State::after_delimiter;
  return std::nullopt;
}

// After a delimiter: "--" closes the body; else optional transport padding (spaces, tabs)
// and CRLF begin the next part.
std::optional<MultipartParser::Event> MultipartParser::scan_after_delimiter() {
  const std::string_view rest = pending();
  if (rest.size() >= 2 && rest.substr(0, 2) == "--") {
    state_ = State::epilogue;
    buf_.clear();
    off_ = 0;
    return Event{Event::Kind::done, {}};
  }
  if (rest.size() == 1 && rest[0] == '-') return std::nullopt;
  const std::size_t eol = rest.find(kCrlf);
  if (eol == std::string_view::npos) {
    if (rest.size() > limits_.max_header_size) malformed("no CRLF after a delimiter");
    for (char c : rest) {
      if (!chars::is_ows(c) && c != '\r') malformed("text after a delimiter");
    }
    return std::nullopt;
  }
  for (char c : rest.substr(0, eol)) {
    if (!chars::is_ows(c)) malformed("text after a delimiter");
  }
  if (++parts_ > limits_.max_parts) {
    throw HttpError(
        413, "multipart body with more than " + std::to_string(limits_.max_parts) + " parts");
  }
  off_ += eol + 2;
  state_ = State::headers;
  return std::nullopt;
}

std::optional<MultipartParser::Event> MultipartParser::scan_headers() {
  const std::string_view rest = pending();
  std::size_t end = 0;  // the header block's length, its final empty line included
  if (rest.substr(0, 2) == kCrlf) {
    end = 2;
  } else if (const std::size_t at = rest.find("\r\n\r\n"); at != std::string_view::npos) {
    end = at + 4;
  }
  if (end > limits_.max_header_size || (end == 0 && rest.size() > limits_.max_header_size)) {
    too_large("part header block", limits_.max_header_size);
  }
  if (end == 0) return std::nullopt;  // more input needed
  parse_head(rest.substr(0, end - 2));
  off_ += end;
  part_size_ = 0;
  state_ = State::data;
  return Event{Event::Kind::part, {}};
}

// The header block's lines, each "name: value" CRLF (no obsolete line folding).
void MultipartParser::parse_head(std::string_view block) {
  head_ = PartHead{};
  bool disposition = false;
  while (!block.empty()) {
    const std::size_t eol = block.find(kCrlf);
    const std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !chars::is_token(line.substr(0, colon))) {
      malformed("a part header line is not 'name: value'");
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = chars::trim_ows(line.substr(colon + 1));
    if (chars::has_bad_value_byte(value)) malformed("a control byte in a part header");
    if (chars::iequals(name, "Content-Disposition")) {
      if (disposition) malformed("a part with two Content-Disposition fields");
      disposition = true;
      parse_disposition(value, head_);
    } else if (chars::iequals(name, "Content-Type")) {
      head_.content_type.assign(value);
    }
    head_.headers.emplace_back(std::string(name), std::string(value));
  }
  if (!disposition) malformed("a part without a Content-Disposition field");
}

// Hands out the data up to the next delimiter, or all of what cannot be its beginning.
std::optional<MultipartParser::Event> MultipartParser::scan_data() {
  const std::size_t at = buf_.find(delimiter_, off_);
  std::size_t until = at;
  if (at == std::string::npos) {
    const std::size_t keep = delimiter_.size() - 1;
    until = buf_.size() > off_ + keep ? buf_.size() - keep : off_;
    // Only a CR can begin the delimiter: the tail kept is the suffix from the last CR on.
    const std::size_t cr = buf_.find('\r', until);
    until = cr == std::string::npos ? buf_.size() : cr;
    until = std::max(until, off_);
  }
  const std::string_view data = std::string_view(buf_).substr(off_, until - off_);
  part_size_ += data.size();
  if (part_size_ > limits_.max_part_size) {
    too_large("part '" + head_.name + "'", limits_.max_part_size);
  }
  if (at != std::string::npos) {
    off_ = at + delimiter_.size();
    state_ = State::after_delimiter;
    if (data.empty()) return Event{Event::Kind::part_end, {}};
    end_pending_ = true;
    return Event{Event::Kind::data, data};
  }
  off_ = until;
  if (data.empty()) return std::nullopt;
  return Event{Event::Kind::data, data};
}

}  // namespace weft::http
