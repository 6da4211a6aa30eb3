// weft::http::RequestParser — an incremental, zero-copy HTTP/1.1 request parser.
//
// Pure: no I/O, no loop, no allocation per request. It reads bytes the caller owns and
// reports views into them. Strict per RFC 9110 / RFC 9112, because a lenient parser behind
// (or in front of) another HTTP hop is how request smuggling happens.
//
// ## Calling contract
//
// The caller keeps one read buffer per connection and calls `parse(buffered)` with *all*
// bytes it has not yet consumed, starting at the first unconsumed byte. Each call reports
// at most one event and how many bytes it consumed:
//
//   need_more         call again once more bytes arrived, passing the unconsumed bytes
//                     again (extended). `consumed` may be > 0 inside a chunked body (framing
//                     the parser has absorbed); it is always 0 while a head is incomplete.
//   head_complete     head() describes the request; `consumed` = bytes of the head.
//   body_data         `body` is the next piece of the body (for chunked: chunk data only,
//                     framing removed). `consumed` covers the piece and the framing before it.
//   message_complete  the request ended; for chunked bodies trailers() holds the trailer
//                     fields. The next call starts the next request (pipelining).
//   error             `error` says why; see http_status() / describe() / must_close(). The
//                     parser stays failed (every later call repeats the error) until reset().
//
// Each call must see at least the bytes the previous call saw, minus those it consumed.
// The caller may drop consumed bytes and move the rest between calls: the parser only keeps
// offsets relative to the first unconsumed byte, never pointers, so passing the same bytes
// at a new address is fine. It remembers how far it scanned, so feeding one byte at a time
// costs O(n) overall, not O(n^2).
//
// Every call makes progress when it can: after head_complete, call parse() again even with
// no bytes left — a request without a body then reports message_complete at once.
//
// ## Lifetime of views
//
// - head() views (method, target, field names and values, host) point into the buffer
//   passed to the call that returned head_complete. They stay valid as long as the caller
//   keeps those head bytes where they were (a server keeps them until it is done with the
//   request, and only then compacts its buffer). head().fields itself is parser storage,
//   valid until the next head_complete.
// - `body` views point into the buffer of the call that returned them; the body is never
//   copied. A caller that wants the whole body in one piece copies the pieces.
// - trailers() views point into the buffer of the call that returned message_complete.
//
// ## Choices (where RFC 9112 leaves one)
//
// - Line endings: in the head a bare LF is accepted as a line terminator (RFC 9112 §2.2
//   MAY; a CR right before the LF is ignored). Inside a chunked body (chunk-size lines, the
//   CRLF after chunk data, trailer lines) CRLF is required: body framing is where
//   smuggling lives. A CR anywhere else is a "bare CR" → 400.
// - Empty lines (CRLF or LF) before a request line are skipped (§2.2); they count towards
//   max_request_line.
// - Request line: exactly one SP between method, target and version (no other whitespace).
//   The method is any token (extension methods are accepted; the server decides 405/501).
// - Target: bytes 0x21..0x7E except '#' (no fragment in a request-target); no
//   percent-decoding here. Origin-form ("/..."), absolute-form ("scheme:..."), "*" only for
//   OPTIONS, authority-form ("host:port") only and always for CONNECT.
// - Version: HTTP/1.1 and HTTP/1.0. Any other "HTTP/d.d" (HTTP/1.2, HTTP/2.0, HTTP/0.9)
//   → 505; anything else → 400. (RFC 9110 §6.2 would let HTTP/1.2 be treated as 1.1; weft
//   answers 505 instead.)
// - Content-Length: 1*DIGIT. Identical duplicates — repeated lines or a "5, 5" list — are
//   accepted as one value (RFC 9110 §8.6 MAY); differing values → 400. Values that do not
//   fit in 64 bits → 400.
// - Transfer-Encoding: the only coding weft decodes is chunked. Final coding not chunked,
//   chunked applied twice, or a malformed list → 400; chunked last but another coding
//   before it ("gzip, chunked") → 501. Transfer-Encoding with Content-Length, or on
//   HTTP/1.0 → 400.
// - Host: exactly one on HTTP/1.1 (missing or repeated → 400); at most one on HTTP/1.0.
//   Its value is only checked against the field-value rules.
// - Field values: HTAB, SP, VCHAR and obs-text (0x80..0xFF); leading/trailing SP/HTAB are
//   trimmed. NUL, other controls and DEL → 400. obs-fold (a line starting with SP/HTAB)
//   → 400. Whitespace between field name and colon → 400.
// - Chunks: size is 1*HEXDIG (leading zeros fine) that must fit in 64 bits; extensions are
//   validated (token [= token / quoted-string]) and then ignored.
// - Expect: values other than 100-continue are left to the server (417).
// - Upgrade and CONNECT: the message is framed like any other and head().upgrade says
//   whether the client asked to switch protocols (for CONNECT the method says it). A
//   server that switches stops calling parse(); the bytes after `consumed` belong to the
//   new protocol. One that declines just keeps parsing.
// - Every error closes the connection (must_close() is true for all of them today): after a
//   framing error the byte stream cannot be trusted. Even 413 with a known Content-Length
//   closes, so that the server never has to read and discard a large body.
// - Body limit: checked when body parsing starts (the first parse() after head_complete) —
//   so set_max_body() called in between (e.g. by a route that streams uploads) applies to
//   this request. Content-Length above the limit → 413 before any body byte; chunked
//   bodies → 413 as soon as a chunk size would exceed it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace weft::http {

// Every limit has a default and a knob. Exceeding one is an error with the given status.
struct ParserLimits {
  static constexpr std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();

  // Request line incl. its line ending and any leading empty lines → 414.
  std::size_t max_request_line = 8 * 1024;
  // Field lines incl. line endings and the final empty line → 431. Also used for trailers.
  std::size_t max_header_block = 16 * 1024;
  // Number of header fields → 431. Also used for trailers.
  std::size_t max_header_fields = 100;
  // Body bytes the server is willing to take for one request → 413. `unlimited` (or a
  // per-request set_max_body()) lets a route stream large bodies.
  std::uint64_t max_body = 1024 * 1024;
  // One chunk-size line incl. extensions and CRLF → 400.
  std::size_t max_chunk_line = 4 * 1024;
};

enum class ParseStatus : std::uint8_t {
  need_more,
  head_complete,
  body_data,
  message_complete,
  error
};

// Why a request was rejected. http_status() maps each to the response status.
enum class ParseErrc : std::uint8_t {
  none = 0,
  // request line
  request_line_too_long,  // 414
  bad_request_line,
  bad_method,
  bad_target,
  bad_version,
  unsupported_version,  // 505
  // header section (and trailers)
  header_block_too_large,  // 431
  too_many_fields,         // 431
  bare_cr,
  bad_field_name,
  whitespace_before_colon,
  missing_colon,
  bad_field_value,
  obs_fold,
  missing_host,
  duplicate_host,
  // framing
  bad_content_length,
  conflicting_content_length,
  content_length_with_transfer_encoding,
  transfer_encoding_on_http10,
  transfer_encoding_not_chunked,
  bad_transfer_encoding,
  unsupported_transfer_coding,  // 501
  body_too_large,               // 413
  // chunked body
  bad_chunk_size,
  chunk_size_overflow,
  bad_chunk_extension,
  chunk_line_too_long,
  missing_chunk_crlf,
  bare_lf_in_chunked,
  // added later, kept at the end so earlier codes keep their values
  bad_host,                 // Host (or an absolute-form target's authority) not uri-host[:port]
  unsupported_expectation,  // 417: an Expect other than 100-continue on HTTP/1.1
  connect_not_supported,    // 501: CONNECT to an origin server
  // response mode (response_parser.hpp); 502 when a gateway has to answer for them
  bad_status_line,
  bad_status_code,                 // not 3 digits in 100..599
  unexpected_switching_protocols,  // 101 to a request that asked for no upgrade
  response_too_large,              // body over max_body
  incomplete_response,             // the connection closed inside a head or a framed body
  too_many_interim_responses,      // more than 32 1xx responses before the final one
};

// The response status for an error: 400, 413, 414, 417, 431, 501 or 505 (0 for none);
// 502 for the response-mode errors.
std::uint16_t http_status(ParseErrc e) noexcept;
// A short human message, e.g. "duplicate Content-Length with different values".
std::string_view describe(ParseErrc e) noexcept;
// True when the connection must be closed after answering (true for every error today).
bool must_close(ParseErrc e) noexcept;

// ParseErrc as std::error_code, category "weft.http.parse".
const std::error_category& parse_category() noexcept;
std::error_code make_error_code(ParseErrc e) noexcept;

struct HeaderField {
  std::string_view name;   // as sent (case preserved); compare case-insensitively
  std::string_view value;  // leading and trailing SP/HTAB removed
};

enum class BodyFraming : std::uint8_t { none, content_length, chunked };

// The parsed head of one request. All views follow the lifetime rules above.
struct RequestHead {
  std::string_view method;  // a token, case-sensitive ("GET")
  std::string_view target;  // raw request-target, not decoded
  int version_minor = 1;    // HTTP/1.<version_minor>: 0 or 1
  std::span<const HeaderField> fields;
  // The Host value, or the authority of an absolute-form target ("http://h:1/p" → "h:1"),
  // which replaces Host (RFC 9112 §3.2.2); empty when absent (HTTP/1.0 only).
  std::string_view host;
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;  // when framing == content_length
  bool keep_alive = true;            // from version and Connection: close / keep-alive
  bool expect_continue = false;      // Expect: 100-continue
  bool upgrade = false;              // HTTP/1.1, Upgrade field and Connection: upgrade

  // The first field named `name` (ASCII case-insensitive), or empty when absent.
  std::string_view field(std::string_view name) const noexcept;
  bool has_field(std::string_view name) const noexcept;
};

struct ParseResult {
  ParseStatus status = ParseStatus::need_more;
  std::size_t consumed = 0;  // always <= the size passed to parse()
  std::string_view body;     // status == body_data: a piece of the body
  ParseErrc error = ParseErrc::none;
};

namespace detail {
// Where lines are in the section being scanned (request head, chunk line or trailers),
// as offsets from the first unconsumed byte: pointers would dangle when the caller
// moves its buffer.
struct LineCursor {
  std::size_t line_start = 0;   // start of the line being looked at
  std::size_t search_from = 0;  // bytes before this were searched for LF already
  std::size_t block_start = 0;  // start of the field lines (after the request line)
};

struct FieldOffsets {
  std::uint32_t name_at, name_len, value_at, value_len;
};

// What the head's fields say about framing and the connection, gathered line by line.
struct HeadFacts {
  std::uint64_t content_length = 0;
  std::uint32_t host_at = 0, host_len = 0;
  std::uint8_t host_count = 0;
  bool has_content_length = false;
  bool has_transfer_encoding = false;
  bool chunked_seen = false;
  bool chunked_last = false;
  bool other_coding = false;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  bool has_upgrade = false;
  bool expect_continue = false;
  bool expect_other = false;  // an Expect value other than 100-continue
};

// The chunked body, decoded the same way by the request and the response parser
// (parse_chunked.cpp): chunk-size lines with their extensions, the data, the CRLF after
// it, and the trailer section (RFC 9112 §7.1). Incremental like its owners: decode() is
// given the unconsumed bytes and resumes at any byte; data comes out as views of them,
// at most one piece per call; every framing line must end in CRLF; the trailer section is
// consumed only when complete, so the trailer views all point into one buffer.
class ChunkedDecoder {
 public:
  struct Limits {
    std::size_t max_chunk_line = 0;
    std::size_t max_header_block = 0;                 // the trailer section
    std::size_t max_header_fields = 0;                // trailer fields
    std::uint64_t max_body = 0;                       // the sum of the chunk sizes
    ParseErrc too_large = ParseErrc::body_too_large;  // the error past max_body
  };
  // A new body, before its first chunk line.
  void start(const Limits& limits) noexcept;
  // body_data (consumed: framing + the data), need_more (consumed: the framing taken),
  // message_complete (consumed: through the end of the trailer section) or error.
  ParseResult decode(std::string_view in);
  std::uint64_t delivered() const noexcept { return delivered_; }  // data bytes so far
  // A new limit for the rest of this body (checked at each chunk line; may be below what
  // was declared already: the next chunk is then refused).
  void set_max_body(std::uint64_t max_body) noexcept { limits_.max_body = max_body; }
  // The last body's trailer fields, valid until clear_trailers() or the next body ends.
  std::span<const HeaderField> trailers() const noexcept { return trailers_; }
  void clear_trailers() noexcept { trailers_.clear(); }

 private:
  enum class Step : std::uint8_t { chunk_line, chunk_data, chunk_data_end, trailer_fields };
  std::size_t take_chunk_line(std::string_view rest);
  ParseErrc on_chunk_line(std::string_view line);
  std::size_t take_chunk_crlf(std::string_view rest);
  ParseResult deliver_data(std::string_view rest, std::size_t pos);
  ParseResult decode_trailers(std::string_view in, std::size_t section_at);
  ParseErrc on_trailer_line(std::string_view section, std::size_t lf);
  ParseResult fail(ParseErrc e) noexcept;
  void start_section(Step step) noexcept;

  Limits limits_;
  Step step_ = Step::chunk_line;
  ParseErrc error_ = ParseErrc::none;  // set by the helpers that return a length
  LineCursor cursor_;
  std::uint64_t remaining_ = 0;  // of the current chunk
  std::uint64_t declared_ = 0;   // the sum of the chunk sizes so far
  std::uint64_t delivered_ = 0;
  std::vector<FieldOffsets> trailer_offsets_;
  std::vector<HeaderField> trailers_;
};

struct RequestLineOffsets {
  std::uint32_t method_at = 0, method_len = 0, target_at = 0, target_len = 0;
  std::uint8_t version_minor = 1;
};
}  // namespace detail

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {});

  // Parses the unconsumed bytes `buffered` (see the calling contract above).
  ParseResult parse(std::string_view buffered);

  // The last request whose head completed. Valid after head_complete.
  const RequestHead& head() const noexcept { return head_; }
  // Trailer fields of the last chunked request. Valid after its message_complete.
  std::span<const HeaderField> trailers() const noexcept { return chunked_.trailers(); }

  // Overrides the body limit for the current request only. Call between head_complete and
  // the next parse(); the next request starts again with limits().max_body.
  void set_max_body(std::uint64_t max_body) noexcept {
    max_body_ = max_body;
    chunked_.set_max_body(max_body);  // a chunked body in progress: from its next chunk
  }
  // The body limit of the current request.
  std::uint64_t max_body() const noexcept { return max_body_; }

  // Forgets everything, e.g. for a new connection. Keeps the storage and the limits.
  void reset() noexcept;

  // Nothing of a next message seen yet (not even part of its request line): the parser
  // holds no state a following parse() needs beyond its limits, so a server may hand it to
  // another connection (after reset()).
  bool between_messages() const noexcept {
    return phase_ == Phase::request_line && cursor_.search_from == 0;
  }

  ParseErrc error() const noexcept { return error_; }
  const ParserLimits& limits() const noexcept { return limits_; }

 private:
  enum class Phase : std::uint8_t {
    request_line,
    header_fields,
    body_start,
    fixed_body,
    chunked,  // chunked_ decodes
    failed,
  };

  // head (parse_head.cpp)
  ParseResult parse_head(std::string_view in);
  ParseResult head_need_more(std::size_t available);
  ParseErrc on_request_line(std::string_view in, std::size_t line_end);
  ParseErrc on_header_line(std::string_view in, std::size_t line_end);
  ParseErrc note_field(std::string_view name, std::string_view value, std::size_t value_at);
  ParseErrc check_head() const;
  ParseResult complete_head(std::string_view in, std::size_t head_end);
  void build_head(std::string_view in);

  // body (parse_body.cpp)
  ParseResult parse_body(std::string_view in);
  ParseResult start_body(std::string_view in);
  ParseResult parse_fixed_body(std::string_view in);
  ParseResult parse_chunked(std::string_view in);

  // parser.cpp
  ParseResult complete_message(std::size_t consumed);
  ParseResult fail(ParseErrc e);
  void start_section(Phase phase) noexcept;

  ParserLimits limits_;
  Phase phase_ = Phase::request_line;
  ParseErrc error_ = ParseErrc::none;
  detail::LineCursor cursor_;
  detail::RequestLineOffsets request_line_;
  detail::HeadFacts facts_;
  std::vector<detail::FieldOffsets> field_offsets_;
  std::vector<HeaderField> fields_;
  RequestHead head_;
  std::uint64_t max_body_ = 0;
  std::uint64_t body_remaining_ = 0;  // a Content-Length body
  detail::ChunkedDecoder chunked_;
};

}  // namespace weft::http

template <>
struct std::is_error_code_enum<weft::http::ParseErrc> : std::true_type {};
