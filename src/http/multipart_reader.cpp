// Request::multipart and Part (multipart.hpp): the parser fed from the request's body, as
// it arrives on a stream_body route or in slices of the buffered body.
#include <weft/fs.hpp>
#include <weft/http/multipart.hpp>
#include <weft/http/request.hpp>

#include "http/parse_chars.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>

namespace weft::http {

using detail::RequestAccess;
namespace detail {

class MultipartReader {
 public:
  MultipartReader(Request& req, std::string boundary, const MultipartLimits& limits)
      : req_(req), parser_(std::move(boundary), limits), limits_(limits) {}

  // The next part's head, or null once the closing delimiter was read (and with it the
  // rest of the body). What the handler left unread of the current part is skipped.
  Task<const PartHead*> next_part();
  // The next piece of the current part's data; nullopt at its end (and after it).
  Task<std::optional<std::string>> next_data();
  const MultipartLimits& limits() const noexcept { return limits_; }

 private:
  static constexpr std::size_t kSlice = 64 * 1024;  // of a buffered body, per feed
  // Feeds the parser the next piece of the body; false at the body's end.
  Task<bool> feed_more();

  Request& req_;
  MultipartParser parser_;
  MultipartLimits limits_;
  std::size_t buffered_offset_ = 0;
  bool in_part_ = false;
};

Task<bool> MultipartReader::feed_more() {
  if (RequestAccess::body_stream(req_) != nullptr) {
    std::optional<std::string> piece = co_await req_.read_body();
    if (!piece) co_return false;
    parser_.feed(*piece);
    co_return true;
  }
  const std::string& body = req_.body();
  if (buffered_offset_ >= body.size()) co_return false;
  const std::size_t n = std::min(kSlice, body.size() - buffered_offset_);
  parser_.feed(std::string_view(body).substr(buffered_offset_, n));
  buffered_offset_ += n;
  co_return true;
}

Task<std::optional<std::string>> MultipartReader::next_data() {
  while (in_part_) {
    std::optional<MultipartParser::Event> ev = parser_.next();
    if (!ev) {
      const bool more = co_await feed_more();
      if (!more) parser_.finish();  // throws: the body ended inside a part
      continue;
    }
    if (ev->kind == MultipartParser::Event::Kind::data) co_return std::string(ev->data);
    in_part_ = false;  // part_end (nothing else can follow a part's data)
  }
  co_return std::nullopt;
}

Task<const PartHead*> MultipartReader::next_part() {
  while (in_part_) {
    std::optional<std::string> skipped = co_await next_data();
    (void)skipped;
  }
  for (;;) {
    std::optional<MultipartParser::Event> ev = parser_.next();
    if (!ev) {
      const bool more = co_await feed_more();
      if (!more) {
        parser_.finish();  // throws unless the body is complete
        co_return nullptr;
      }
      continue;
    }
    if (ev->kind == MultipartParser::Event::Kind::part) {
      in_part_ = true;
      co_return &parser_.head();
    }
    if (ev->kind == MultipartParser::Event::Kind::done) {
      for (;;) {  // the epilogue: read so the connection can carry the next request
        const bool more = co_await feed_more();
        if (!more) break;
      }
      co_return nullptr;
    }
  }
}

}  // namespace detail

std::string_view Part::header(std::string_view name) const noexcept {
  for (const auto& [n, v] : head_->headers) {
    if (chars::iequals(n, name)) return v;
  }
  return {};
}

Task<std::optional<std::string>> Part::read() { return reader_->next_data(); }

Task<std::string> Part::text() {
  const std::size_t max = reader_->limits().max_text_size;
  std::string all;
  for (;;) {
    std::optional<std::string> piece = co_await read();
    if (!piece) break;
    if (piece->size() > max - all.size()) {
      throw HttpError(413, "multipart part '" + name() + "' larger than " + std::to_string(max) +
                               " bytes (read as text)");
    }
    all += *piece;
  }
  co_return all;
}

namespace {

// Removes a file that was not completed if the coroutine saving it is destroyed while
// suspended (its server or loop went away): a plain unlink(2) on the loop thread then, as
// fs::File's destructor closes with close(2) — no coroutine can run any more to do it on
// the pool. The error paths of save_to remove the file on the pool themselves.
struct RemoveUnlessDone {
  const std::string& path;
  bool armed = true;
  ~RemoveUnlessDone() {
    if (armed) (void)::unlink(path.c_str());
  }
};

// "<path>.upload-<pid>-<n>": in the target's directory (so the rename is atomic), unique
// in the process, opened with O_EXCL so that a clash fails instead of sharing a file.
std::string temporary_name(const std::string& path) {
  static std::atomic<std::uint64_t> counter{0};
  return path + ".upload-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

}  // namespace

Task<std::uint64_t> Part::save_to(std::string path) {
  std::string temp = temporary_name(path);
  fs::File file = co_await fs::open(
      temp, fs::OpenFlags::write | fs::OpenFlags::create | fs::OpenFlags::exclusive);
  RemoveUnlessDone guard{temp};
  std::uint64_t written = 0;
  std::exception_ptr failure;
  try {
    for (;;) {
      std::optional<std::string> piece = co_await read();
      if (!piece) break;
      const std::size_t n = piece->size();
      co_await file.write(written, std::move(*piece));
      written += n;
    }
    co_await file.close();
    co_await fs::rename(temp, path);  // complete: in place at once, replacing what was there
    guard.armed = false;
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    try {  // the part's error is the one to report, not these
      co_await file.close();
    } catch (const std::exception&) {
    }
    try {
      co_await fs::unlink(temp);
      guard.armed = false;
    } catch (const std::exception&) {  // the guard tries again
    }
    std::rethrow_exception(failure);
  }
  co_return written;
}

Task<void> Request::multipart(PartHandler handler, MultipartLimits limits) {
  std::optional<std::string> boundary = multipart_boundary(header("Content-Type"));
  if (!boundary) {
    throw HttpError(
        415,
        "expected a multipart/form-data body (Content-Type: multipart/form-data; boundary=...)");
  }
  detail::MultipartReader reader(*this, std::move(*boundary), limits);
  for (;;) {
    const PartHead* head = co_await reader.next_part();
    if (head == nullptr) break;
    Part part(reader, *head);
    co_await handler(part);
  }
}

}  // namespace weft::http
