// The awaitable forms of Stream and every Transport (read_some, read_until, read_exactly,
// write_all, shutdown()). Included by stream.hpp; see the "coroutine forms" section there.
//
// They are built on the stream's callback API, so the two forms share one rule set:
//  * errors are thrown as std::system_error with the codes the callbacks receive
//    (ECONNRESET, EPIPE after shutdown, no_buffer_space, ...); a closed stream throws
//    bad_file_descriptor; a cancelled token operation_canceled (resumed in the pending
//    phase, never inside cancel()).
//  * While an awaitable read is pending it owns the stream's data, on_end and on_error
//    callbacks (it installs its own; afterwards they are no-ops). At most one read may be
//    pending per stream; reads and writes may be pending at the same time (one reader
//    coroutine and one writer coroutine). To go back to the callback form call
//    read_start(cb) with a callback (read_start() without one would resume a stale one).
//  * The stream must outlive the awaiters pending on it (destroying it under one is a use
//    after free). close() from another coroutine: pending write_all/shutdown throw
//    operation_canceled; a pending read is NOT woken (close() stops every delivery) and
//    stays pending until its awaiter is destroyed or its token cancelled — so close from
//    the reading coroutine, or cancel its token first. A read started after close()
//    returns 0 (end of input).
#pragma once

#include <weft/cancel.hpp>
#include <weft/net/write_queue.hpp>

#include <coroutine>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace weft::net {

class Transport;

namespace detail {

// One pending read: installs the data/end/error callbacks, consumes through consume(),
// resumes the coroutine inside the data callback (no extra loop pass) or on end/error.
class ReadAwaiterBase {
 public:
  ReadAwaiterBase(const ReadAwaiterBase&) = delete;
  ReadAwaiterBase& operator=(const ReadAwaiterBase&) = delete;

 protected:
  ReadAwaiterBase(Transport& s, CancelToken token) noexcept : s_(s), token_(std::move(token)) {}
  ~ReadAwaiterBase();

  // Reports whether the read can complete without waiting (end, error, cancelled).
  bool ready_without_data();
  void suspend(std::coroutine_handle<> h);
  // Throws the error, if any; true at the end of input.
  bool resume_check();
  // Takes bytes from the stream's buffer; sets done when the read is complete.
  virtual std::size_t consume(std::span<char> data, bool& done) = 0;

  Transport& s_;

 private:
  void stop_waiting() noexcept;
  void on_cancel();

  CancelToken token_;
  CancelRegistration reg_;
  weft::detail::DeferredResume deferred_;
  std::coroutine_handle<> h_;
  std::error_code ec_;
  bool waiting_ = false, eof_ = false;
};

// Shared between a pending write_all/shutdown and the write callbacks it queued, which
// may outlive it (they then find no coroutine to resume).
struct WriteWaiter {
  std::coroutine_handle<> h;
  std::error_code ec;
  std::uint64_t last_seq = 0;  // the chunk whose completion is awaited
  bool waiting = false;
};

}  // namespace detail

// co_await stream.read_some(buf) → bytes copied into buf (≥ 1), 0 at the end of input.
// Cancel safety: safe. Bytes are consumed from the stream only in the step that
// resumes the coroutine with their count; a read destroyed or cancelled before that has
// consumed nothing, and the next read gets the bytes.
class [[nodiscard]] ReadSomeAwaiter final : detail::ReadAwaiterBase {
 public:
  ReadSomeAwaiter(Transport& s, std::span<char> buf, CancelToken token) noexcept
      : ReadAwaiterBase(s, std::move(token)), buf_(buf) {}
  bool await_ready() { return buf_.empty() || ready_without_data(); }
  void await_suspend(std::coroutine_handle<> h) { suspend(h); }
  std::size_t await_resume() {
    if (resume_check() || buf_.empty()) return 0;
    return n_;
  }

 private:
  std::size_t consume(std::span<char> data, bool& done) override;
  std::span<char> buf_;
  std::size_t n_ = 0;
};

// co_await stream.read_until(buf, delim, max) → bytes appended to buf in this call, up
// to and including the first delim; at the end of input, what came before it (0: none;
// buf then does not end with delim). Bytes after the delimiter stay in the stream for
// the next read (nothing is over-read). Throws no_buffer_space if more than max bytes
// were appended without finding delim (they stay in buf).
// Cancel safety: safe in tokio's sense: every byte consumed is already in buf; call it
// again with the same buf to continue (the search restarts at buf's old end).
class [[nodiscard]] ReadUntilAwaiter final : detail::ReadAwaiterBase {
 public:
  ReadUntilAwaiter(Transport& s, std::string& buf, std::string_view delim, std::size_t max,
                   CancelToken token) noexcept
      : ReadAwaiterBase(s, std::move(token)),
        buf_(buf),
        delim_(delim),
        max_(max),
        start_(buf.size()) {}
  bool await_ready() { return delim_.empty() || ready_without_data(); }
  void await_suspend(std::coroutine_handle<> h) { suspend(h); }
  std::size_t await_resume();

 private:
  std::size_t consume(std::span<char> data, bool& done) override;
  std::string& buf_;
  std::string_view delim_;
  std::size_t max_;
  std::size_t start_;
  bool overflow_ = false;
};

// co_await stream.write_all(data): returns once every byte was handed to the kernel or
// queued with the stream's queue at most at its high-water mark — not when the peer got
// them. The data is written in chunks no larger than the room below the mark, so a fast
// producer to a slow reader holds at most the high-water mark (+1 byte) queued. Copies
// only what the kernel does not take at once; data need not outlive the call.
// Cancel safety: NOT safe. Destroyed or cancelled while waiting, the prefix already
// handed to the stream is still sent and the rest is not; the caller cannot tell how
// much went out, so the usual reaction is to close the stream.
class [[nodiscard]] WriteAllAwaiter final {
 public:
  WriteAllAwaiter(Transport& s, std::string_view data, CancelToken token) noexcept
      : s_(s), data_(data), token_(std::move(token)) {}
  WriteAllAwaiter(const WriteAllAwaiter&) = delete;
  WriteAllAwaiter& operator=(const WriteAllAwaiter&) = delete;
  ~WriteAllAwaiter();
  bool await_ready();  // the fast path: everything fits below the mark
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  bool pump();  // true when done (or failed)
  void on_chunk(std::uint64_t seq, std::error_code ec);

  Transport& s_;
  std::string_view data_;
  CancelToken token_;
  CancelRegistration reg_;
  weft::detail::DeferredResume deferred_;
  std::shared_ptr<detail::WriteWaiter> waiter_;
  std::error_code ec_;
  std::uint64_t seq_ = 0;
};

// co_await stream.shutdown(token): half-close; returns once the queue was flushed and the
// FIN sent. Cancel safety: the FIN cannot be recalled: destroyed or cancelled while
// waiting (the token resumes it with operation_canceled in the pending phase), it is
// still sent after the queue drains (nothing is lost; only the notification is). A token
// already cancelled: nothing is shut down.
class [[nodiscard]] ShutdownAwaiter final {
 public:
  explicit ShutdownAwaiter(Transport& s, CancelToken token = {}) noexcept
      : s_(s), token_(std::move(token)) {}
  ShutdownAwaiter(const ShutdownAwaiter&) = delete;
  ShutdownAwaiter& operator=(const ShutdownAwaiter&) = delete;
  ~ShutdownAwaiter();
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  Transport& s_;
  CancelToken token_;
  CancelRegistration reg_;
  weft::detail::DeferredResume deferred_;
  std::shared_ptr<detail::WriteWaiter> waiter_;
};

}  // namespace weft::net
