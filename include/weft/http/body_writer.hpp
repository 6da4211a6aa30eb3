// BodyWriter: how a streamed response writes its body (Response::stream).
//
//   co_await writer.write(piece);
//
// write() hands the piece to the connection at once (as one chunk of a chunked body on
// HTTP/1.1, raw bytes until close on HTTP/1.0); the co_await suspends only while the
// connection holds more than its high-water mark of unsent bytes, and resumes when the
// client has read them (the drain notification). A slow reader therefore holds the
// producer back instead of growing the server's memory.
//
// Filters: set_filter(f) makes every later write send f(piece) instead of the piece (an
// empty result sends nothing). compression() encodes a streamed body this way, wrapping the
// producer: it sets the filter, runs the producer, clears the filter and writes the
// encoder's end. A filter that throws makes the write throw (the body is cut there).
//
// Cancellation: when the client disconnects, a suspended or later write throws
// std::system_error(operation_canceled), and cancelled() is true; the producer should
// simply let it unwind.
#pragma once

#include <weft/function.hpp>

#include <coroutine>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace weft::http {

class Connection;
class BodyWriter;

namespace detail {
// The server's way into a BodyWriter (which connection it writes to), kept out of the
// public interface (as detail::LoopAccess is for a Loop).
struct BodyWriterAccess {
  // The connection the body goes to; null once the client is gone.
  static Connection* connection(const BodyWriter& w) noexcept;
};
}  // namespace detail

class BodyWriter {
 public:
  class WriteAwaiter {
   public:
    explicit WriteAwaiter(BodyWriter& w) noexcept : writer_(w) {}
    bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> h) noexcept { writer_.waiting_ = h; }
    void await_resume() const;

   private:
    BodyWriter& writer_;
  };

  WriteAwaiter write(std::string_view piece);
  using Filter = Function<std::string(std::string_view)>;
  void set_filter(Filter filter) noexcept { filter_ = std::move(filter); }
  bool cancelled() const noexcept { return conn_ == nullptr; }

 private:
  friend class Connection;
  friend struct detail::BodyWriterAccess;
  Connection* conn_ = nullptr;
  std::coroutine_handle<> waiting_;
  Filter filter_;
  bool chunked_ = true;
  bool blocked_ = false;  // above the high-water mark since the last write
};

inline Connection* detail::BodyWriterAccess::connection(const BodyWriter& w) noexcept {
  return w.conn_;
}

}  // namespace weft::http
