// multipart/form-data (RFC 7578 over RFC 2046's multipart syntax): a request body of
// parts, each with its own header fields (Content-Disposition: form-data; name="...";
// filename="...", Content-Type) and data — what an HTML form with a file input posts.
//
//   app.route("POST", "/upload", [](weft::http::Request& req) -> weft::Task<weft::http::Response> {
//     std::string title;
//     co_await req.multipart([&](weft::http::Part& part) -> weft::Task<void> {
//       if (part.is_file()) {
//         co_await part.save_to("uploads/" + std::string(req.id()));
//       } else {
//         title = co_await part.text();
//       }
//     });
//     co_return weft::http::Response::text("got " + title);
//   }, {.stream_body = true, .max_body = 64 * 1024 * 1024});
//
// Request::multipart(handler, limits) calls `handler` once per part, in order, as soon as
// the part's header fields are in; the handler reads the part's data as it arrives
// (part.read(), like Request::read_body()), or has it written to a file (part.save_to())
// or gathered (part.text()), or ignores it (what it leaves unread is skipped). On a
// stream_body route only the piece being parsed is in memory (at most a read's worth plus
// the boundary), so the route's max_body, not memory, bounds an upload; on a buffered
// route the body is in memory already and is parsed from there.
//
// Errors (thrown as HttpError, so the handler's route answers with them unless caught):
// 415 when the Content-Type is not multipart/form-data, 400 when its boundary parameter
// is missing or invalid or the body is malformed (no delimiter, bad part header fields,
// a part without `Content-Disposition: form-data; name=...`, the body ending before the
// closing delimiter), 413 when a MultipartLimits bound is passed. The message names
// what failed and the limit. A client that disconnects makes the reads throw
// std::system_error(operation_canceled).
#pragma once

#include <weft/http/http_error.hpp>
#include <weft/function.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::http {

// The bounds of one multipart body; each passed gives 413 with a message naming it.
struct MultipartLimits {
  std::uint64_t max_part_size = 32 * 1024 * 1024;   // data bytes of one part
  std::uint64_t max_total_size = 64 * 1024 * 1024;  // the whole body, delimiters included
  std::size_t max_parts = 128;                      // parts in the body
  std::size_t max_header_size = 8 * 1024;           // one part's header block (with CRLFs)
  std::size_t max_text_size = 1024 * 1024;          // what Part::text() gathers
};

// One part's header block, parsed.
struct PartHead {
  std::string name;                         // Content-Disposition's name parameter
  std::string filename;                     // its filename (or filename*) parameter; may be empty
  bool has_filename = false;                // a filename parameter was sent (a file input)
  std::string content_type = "text/plain";  // RFC 7578 §4.4's default when absent
  std::vector<std::pair<std::string, std::string>> headers;  // every field, in order
};

// The boundary parameter of a multipart Content-Type ("multipart/form-data;
// boundary=xyz"), unquoted and validated (1..70 characters of RFC 2046's bchars, not
// ending in a space); nullopt when the type is not multipart/form-data; HttpError 400
// when the boundary is missing or invalid.
std::optional<std::string> multipart_boundary(std::string_view content_type);

// The incremental parser under Request::multipart, pure (no I/O): feed() the body in
// pieces of any size, take events with next() until it returns nullopt (more input
// needed), feed again; finish() once the body has ended. Memory: the unparsed tail of the
// last piece (a data event hands out everything that cannot be the start of a delimiter).
// Errors: HttpError 400 / 413 as described above, thrown by next() or finish().
class MultipartParser {
 public:
  struct Event {
    enum class Kind : unsigned char {
      part,      // a part's head is complete: see head()
      data,      // a piece of the current part's data: `data`
      part_end,  // the current part's data is complete
      done,      // the closing delimiter: the rest of the body (the epilogue) is ignored
    };
    Kind kind;
    std::string_view data;  // Kind::data: valid until the next feed()
  };

  MultipartParser(std::string boundary, MultipartLimits limits = {});

  void feed(std::string_view piece);
  std::optional<Event> next();
  // The body ended: throws HttpError 400 unless the closing delimiter was seen.
  void finish() const;

  const PartHead& head() const noexcept { return head_; }  // the current part's
  bool done() const noexcept { return state_ == State::epilogue; }
  std::size_t parts() const noexcept { return parts_; }

 private:
  enum class State : unsigned char { preamble, after_delimiter, headers, data, epilogue };
  std::optional<Event> scan_preamble();
  std::optional<Event> scan_after_delimiter();
  std::optional<Event> scan_headers();
  std::optional<Event> scan_data();
  void parse_head(std::string_view block);
  std::string_view pending() const noexcept { return std::string_view(buf_).substr(off_); }

  std::string delimiter_;  // CRLF "--" boundary
  MultipartLimits limits_;
  std::string buf_;
  std::size_t off_ = 0;  // parsed up to here
  std::uint64_t total_ = 0;
  std::uint64_t part_size_ = 0;
  std::size_t parts_ = 0;
  PartHead head_;
  State state_ = State::preamble;
  bool end_pending_ = false;  // a data event was handed out; part_end follows
};

namespace detail {
class MultipartReader;
}

// One part as Request::multipart's handler sees it; valid while the handler runs.
class Part {
 public:
  const std::string& name() const noexcept { return head_->name; }
  const std::string& filename() const noexcept { return head_->filename; }
  // Whether the part is a file (it has a filename parameter, possibly empty).
  bool is_file() const noexcept { return head_->has_filename; }
  const std::string& content_type() const noexcept { return head_->content_type; }
  // The first field named `name` (case-insensitive), or empty.
  std::string_view header(std::string_view name) const noexcept;
  const PartHead& head() const noexcept { return *head_; }

  // The next piece of the part's data as it arrives; nullopt once the part is complete.
  Task<std::optional<std::string>> read();
  // The rest of the part's data, gathered (413 past MultipartLimits::max_text_size).
  Task<std::string> text();
  // Writes the rest of the part's data to `path` through weft::fs on the pool, piece by
  // piece as it arrives; returns the bytes written. The data goes to a temporary file
  // beside it ("<path>.upload-<pid>-<n>", mode 0666 less the umask), renamed to `path`
  // once the part is complete (replacing a file there): `path` never holds a partial
  // upload. When the part fails (a limit, a malformed body, the client gone, a write
  // error) the temporary file is removed before the error is rethrown, and a file
  // already at `path` stays as it was.
  Task<std::uint64_t> save_to(std::string path);

  // -- used by Request::multipart -----------------------------------------------------
  Part(detail::MultipartReader& reader, const PartHead& head) noexcept
      : reader_(&reader), head_(&head) {}

 private:
  detail::MultipartReader* reader_;
  const PartHead* head_;
};

// What Request::multipart calls for each part.
using PartHandler = Function<Task<void>(Part&)>;

}  // namespace weft::http
