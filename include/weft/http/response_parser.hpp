// weft::http::ResponseParser — the response mode of weft's HTTP/1.1 parser (the client's
// side): status line, header fields, and the body framed as RFC 9112 §6.3 says.
//
// Same calling contract, view lifetimes, limits and strictness as RequestParser
// (parser.hpp): pure, incremental, zero-copy, offsets only (the caller may move its
// buffer), resumes at any byte, one event per call. What differs:
//
//  * start(method) before each response: the request's method decides whether a body
//    follows (HEAD: never). A fresh parser expects a response to GET.
//  * Interim responses (1xx other than 101) are consumed silently: parse() goes on with the
//    final response in the same call; `consumed` then covers the interim heads, so a
//    need_more may have consumed > 0 here. informational() counts them, and
//    saw_continue() says whether one was 100 Continue (a client waiting to send its body).
//    101 Switching Protocols is an error: weft's client never asks to upgrade.
//  * Body framing (RFC 9112 §6.3): HEAD requests and 1xx/204/304 responses have no body
//    whatever the fields say; Transfer-Encoding with chunked last → chunked; another
//    Transfer-Encoding → read until the connection closes; Content-Length → that many
//    bytes; neither → until close (head().keep_alive is false then).
//  * The end of input: when the peer closes, call finish(). It reports message_complete
//    for a body delimited by the close (and for a connection closed between responses:
//    status need_more, nothing pending), and the error incomplete_response when the
//    close cut a head or a framed body short.
//
// Strictness (where RFC 9112 leaves a choice; errors are ParseErrc, http_status() 502):
//  * status-line = HTTP-version SP 3DIGIT SP reason-phrase; the code must be 100..599;
//    "HTTP/1.1 200" without the SP and reason is accepted (reason empty). Versions: 1.0
//    and 1.1 (other HTTP/d.d → unsupported_version). The reason phrase is HTAB, SP, VCHAR,
//    obs-text.
//  * Fields: as for requests (no obs-fold, no whitespace before the colon, no bare CR, no
//    controls in values; a bare LF ends a head line, CRLF is required in chunked framing).
//  * Content-Length and Transfer-Encoding together → content_length_with_transfer_encoding
//    (RFC 9112 §6.3 calls it a smuggling attempt the recipient ought to treat as an error);
//    differing Content-Length values → conflicting_content_length; Transfer-Encoding in an
//    HTTP/1.0 response → transfer_encoding_on_http10. A malformed framing field is an
//    error even where no body follows (HEAD, 204, 304).
//  * limits().max_request_line bounds the status line, max_header_block and
//    max_header_fields the head (and trailers), max_body the body (response_too_large).
#pragma once

#include <weft/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace weft::http {

enum class ResponseFraming : std::uint8_t { none, content_length, chunked, until_close };

// The parsed head of one final response. Views follow RequestParser's lifetime rules.
struct ResponseHead {
  int version_minor = 1;     // HTTP/1.<version_minor>: 0 or 1
  std::uint16_t status = 0;  // 200..599 (or 100..199 never: interim heads are skipped)
  std::string_view reason;   // the reason phrase, possibly empty
  std::span<const HeaderField> fields;
  ResponseFraming framing = ResponseFraming::none;
  std::uint64_t content_length = 0;  // when framing == content_length
  bool keep_alive = true;            // the connection may carry another request afterwards

  // The first field named `name` (ASCII case-insensitive), or empty when absent.
  std::string_view field(std::string_view name) const noexcept;
  bool has_field(std::string_view name) const noexcept;
};

class ResponseParser {
 public:
  explicit ResponseParser(ParserLimits limits = {});

  // Announces the next response: the method of the request it answers (case-sensitive,
  // "HEAD" means no body). Call between responses (after message_complete or reset()).
  void start(std::string_view method) noexcept;

  // Parses the unconsumed bytes `buffered` (RequestParser's contract; see above).
  ParseResult parse(std::string_view buffered);
  // The peer closed the connection; `buffered` holds the bytes still unconsumed (passed
  // to parse() already). message_complete, need_more (nothing was pending) or error.
  ParseResult finish(std::string_view buffered);

  const ResponseHead& head() const noexcept { return head_; }
  std::span<const HeaderField> trailers() const noexcept { return chunked_.trailers(); }
  // Interim (1xx) responses skipped since start(); whether one of them was 100 Continue.
  std::size_t informational() const noexcept { return informational_; }
  bool saw_continue() const noexcept { return saw_continue_; }
  // True before any byte of a response was seen (the connection could be reused or closed).
  bool between_messages() const noexcept {
    return phase_ == Phase::status_line && cursor_.search_from == 0 && informational_ == 0;
  }
  // Body bytes delivered so far for the current response.
  std::uint64_t body_received() const noexcept { return body_total_; }

  void reset() noexcept;
  ParseErrc error() const noexcept { return error_; }
  const ParserLimits& limits() const noexcept { return limits_; }

 private:
  enum class Phase : std::uint8_t {
    status_line,
    header_fields,
    body_start,
    fixed_body,
    until_close,
    chunked,  // chunked_ decodes
    failed,
  };

  // head (parse_response.cpp)
  ParseResult parse_head(std::string_view in);
  ParseResult head_need_more(std::size_t available);
  ParseErrc on_status_line(std::string_view in, std::size_t line_end);
  ParseErrc on_header_line(std::string_view in, std::size_t line_end);
  ParseErrc note_field(std::string_view name, std::string_view value);
  ParseErrc check_framing() const;
  ParseResult complete_head(std::string_view in, std::size_t head_end);
  ParseResult skip_interim(std::string_view in, std::size_t head_end);
  void build_head(std::string_view in);
  void forget_head() noexcept;

  // body (parse_response_body.cpp)
  ParseResult parse_body(std::string_view in);
  ParseResult start_body(std::string_view in);
  ParseResult parse_fixed_body(std::string_view in);
  ParseResult parse_until_close(std::string_view in);
  ParseResult parse_chunked(std::string_view in);
  ParseResult complete_message(std::size_t consumed);
  ParseResult fail(ParseErrc e);
  void start_section(Phase phase) noexcept;

  struct StatusLine {
    std::uint32_t reason_at = 0, reason_len = 0;
    std::uint16_t status = 0;
    std::uint8_t version_minor = 1;
  };

  ParserLimits limits_;
  Phase phase_ = Phase::status_line;
  ParseErrc error_ = ParseErrc::none;
  bool head_request_ = false;
  bool saw_continue_ = false;
  std::size_t informational_ = 0;
  detail::LineCursor cursor_;
  StatusLine status_line_;
  detail::HeadFacts facts_;
  std::vector<detail::FieldOffsets> field_offsets_;
  std::vector<HeaderField> fields_;
  ResponseHead head_;
  std::uint64_t body_remaining_ = 0;  // a Content-Length body
  std::uint64_t body_total_ = 0;      // body bytes so far
  detail::ChunkedDecoder chunked_;
};

}  // namespace weft::http
