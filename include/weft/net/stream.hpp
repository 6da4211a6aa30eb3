// Stream: a connected, non-blocking byte stream over TCP (IPv4/IPv6) or a Unix-domain
// socket. TcpStream and UnixStream are the same class; only the address family differs.
//
// Reading. An idle stream holds no read buffer. Each read goes into a buffer shared by
// every stream of the thread's loop (one loop per thread, so reads never overlap) and the
// data callback receives *all unconsumed bytes* (old leftovers followed by the new ones)
// in one span, valid only until the callback returns. It returns how many it consumed;
// only the rest is copied into storage of this stream, sized to what is pending, and is at
// the front of the next delivery. A parser can therefore work in place and keep a partial
// message between reads without holding a buffer per connection. What is pending may grow
// up to StreamOptions::max_read_buffer; if that much is pending and the callback consumes
// nothing, the stream fails with errc::no_buffer_space. read_stop() pauses (also from
// inside the data callback); read_start() resumes and re-delivers the unconsumed bytes (in
// a later loop phase, never inside read_start()).
//
// Writing. write() tries the kernel at once when nothing is queued; what does not fit is
// queued and flushed with writev when the socket becomes writable. write() returns false
// once more than high_water_mark bytes are queued: stop writing and wait for on_drain,
// which fires when the queue has been flushed completely. While the data callback runs
// the stream is corked (writes are gathered and flushed in one writev when it returns).
// Write callbacks are optional and run after their bytes were handed to the kernel.
//
// Events are delivered at most once each: on_end (the peer finished sending), on_error
// (any failure; reading stops, queued writes fail with the same error). A callback is
// never invoked inside the call that started its operation (connect, write, shutdown,
// read_start): such completions run later in the same or the next loop iteration.
//
// Cancellation and lifetime, per operation:
//  * connect: close() or reset() before completion → the callback receives
//    errc::operation_canceled in the close phase, before on_close. Timeout → the
//    callback receives errc::timed_out and the socket is closed (the stream stays open
//    as a handle; close it).
//  * write/shutdown: close() → queued bytes are discarded and their callbacks receive
//    operation_canceled in the close phase, before on_close. After an error they
//    receive that error. After shutdown() or an error, write() fails (returns false,
//    the callback receives the error: EPIPE after shutdown).
//  * reading: close() stops delivery at once; no data/end/error callback runs after it.
//  * any call on a closed stream: write() returns false and its callback is dropped;
//    read_start() returns bad_file_descriptor.
//  * destruction: in any state, nothing of this stream is called back afterwards, and
//    no pending completion (queued write, connect in flight, timer) touches it.
//  * Handle::close() called through a Handle& skips the cancellation callbacks (they
//    are dropped); on_close still runs.
//
// Activity: the stream keeps the loop alive while it reads, has queued writes, a
// pending shutdown, a connect in flight or completions to deliver (unref() opts out).
//
// Coroutine forms (stream_await.hpp has each one's contract and cancel safety):
// read_some, read_exactly, read_until, write_all, shutdown() — awaitables over the same
// callbacks, throwing std::system_error with the same codes; each takes an optional
// CancelToken. net::connect() and Listener::accept() (tcp.hpp) make Streams in this style.
//
// Readiness: the socket is registered once, edge-triggered, for readable and writable;
// pausing, resuming and write blocking never touch the poll set (no epoll_ctl churn).
#pragma once

#include <weft/clock.hpp>
#include <weft/function.hpp>
#include <weft/handle.hpp>
#include <weft/io_watcher.hpp>
#include <weft/net/address.hpp>
#include <weft/net/socket.hpp>
#include <weft/net/stream_await.hpp>
#include <weft/net/transport.hpp>
#include <weft/net/write_queue.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace weft::net {

struct StreamOptions {
  std::size_t read_buffer_size = 16 * 1024;   // the most one read takes (at most 64 KiB)
  std::size_t max_read_buffer = 1024 * 1024;  // the most bytes delivered (pending + read)
  std::size_t high_water_mark = 64 * 1024;    // write() returns false above this
  bool no_delay = true;                       // TCP_NODELAY (TCP only)
  bool cork_during_read = true;               // gather writes made in the data callback
};

using ConnectCallback = Function<void(std::error_code)>;

class Stream final : public Transport {
 public:
  // An unconnected stream; connect() opens the socket.
  explicit Stream(Loop& loop, StreamOptions options = {});
  // Adopts a connected socket (from a Listener's accept callback).
  Stream(Loop& loop, Socket socket, StreamOptions options = {});
  ~Stream() override;

  // -- connecting ------------------------------------------------------------------
  // Opens a socket of to.family() and connects; cb runs once with the result (never
  // inside connect()). timeout zero: no limit beyond the kernel's. Errors: the connect
  // errno (ECONNREFUSED...), timed_out, operation_canceled on close, EISCONN if the
  // stream already has a socket.
  void connect(const SocketAddress& to, ConnectCallback cb, Duration timeout = Duration::zero());
  // Resolves host with the loop's default resolver (net/dns.hpp), then connects to its
  // addresses in order: when one fails (ECONNREFUSED, ENETUNREACH...) the next is tried.
  // timeout covers the lookup and every attempt (zero: only the resolver's own timeout
  // and the kernel's). cb runs once, never inside connect(), with: {} once connected,
  // the lookup's error (weft.dns category), the last address's connect error,
  // timed_out, or operation_canceled on close. is_connecting() holds from the call on.
  void connect(std::string_view host, std::uint16_t port, ConnectCallback cb,
               Duration timeout = Duration::zero());
  bool is_connecting() const noexcept { return connecting_; }
  bool is_connected() const noexcept { return fd_ >= 0 && !connecting_; }

  // -- reading ---------------------------------------------------------------------
  // Starts (or resumes) delivering data; data already buffered is re-delivered soon.
  // Reading may start before connect() or before it completes. Does nothing after an
  // error or a failed connect; after the end of input it only re-delivers the bytes still
  // buffered (a consumer that left some unconsumed gets them; on_end is not repeated). Fails with
  // bad_file_descriptor on a closed stream.
  std::error_code read_start(DataCallback cb) override;
  std::error_code read_start() override;  // resumes with the current callback
  void read_stop() noexcept override;
  bool is_reading() const noexcept override { return reading_; }
  // Bytes received but not consumed yet (inside the data callback: the bytes delivered).
  std::size_t buffered_bytes() const noexcept override {
    return delivering_ ? delivering_ : rend_ - rbeg_;
  }
  // Bytes of memory this stream holds for unconsumed input: 0 when nothing is pending.
  std::size_t read_buffer_capacity() const noexcept { return rcap_; }

  void on_end(Function<void()> cb) override { end_cb_ = std::move(cb); }
  void on_error(Function<void(std::error_code)> cb) override { error_cb_ = std::move(cb); }
  void on_drain(Function<void()> cb) override { drain_cb_ = std::move(cb); }

  // -- writing ---------------------------------------------------------------------
  // Copies what cannot be written now. Returns false when queued bytes exceed the
  // high-water mark (or the stream cannot write: the callback then gets the error).
  bool write(std::string_view data, WriteCallback done = {}) override;
  // Takes ownership of data: queued without a copy.
  bool write(std::string&& data, WriteCallback done = {}) override;
  bool write(const char* data, WriteCallback done = {}) {
    return write(std::string_view(data), std::move(done));
  }
  // Zero-copy: the caller keeps data alive until done runs (it always runs, unless
  // the stream is destroyed first).
  bool write_borrowed(std::string_view data, WriteCallback done) override;
  // Zero-copy from a file: sends len bytes of fd from offset with sendfile, in order with
  // the other writes. keep_alive is held until the range was sent (or the write failed),
  // so the descriptor stays open that long. A file shorter than offset + len fails the
  // stream with EIO (the peer would otherwise wait for bytes that never come).
  bool write_file(int fd, std::uint64_t offset, std::size_t len,
                  std::shared_ptr<const void> keep_alive, WriteCallback done = {}) override;
  // Gathers writes until uncork() (nestable); uncork() flushes them in one writev.
  void cork() noexcept override { ++corks_; }
  void uncork() override;
  // Half-close: after the queue is flushed, sends FIN (shutdown(SHUT_WR)); done runs then.
  // (Pass the callback explicitly, nullptr for none: shutdown() and shutdown(token) are
  // the awaitable forms.)
  void shutdown(WriteCallback done) override;
  using Transport::shutdown;  // the awaitable forms
  std::size_t queued_bytes() const noexcept override { return queue_.bytes(); }

  // -- coroutine forms: read_some, read_until, read_exactly, write_all, shutdown(token)
  // are Transport's (transport.hpp, stream_await.hpp).
  // The peer's end of input was read (on_end may still be pending).
  bool read_ended() const noexcept override { return ended_; }
  // The stream's failure, once it failed (on_error may still be pending).
  std::error_code error() const noexcept override { return error_; }
  std::size_t high_water_mark() const noexcept override { return options_.high_water_mark; }
  void set_high_water_mark(std::size_t bytes) noexcept override {
    options_.high_water_mark = bytes;
  }
  bool needs_drain() const noexcept override { return need_drain_; }

  // -- closing ---------------------------------------------------------------------
  // Closes the socket now (queued bytes are discarded); on_close runs in the close phase
  // after the cancellation callbacks. Idempotent.
  void close(Function<void()> on_close = {}) override;
  // Like close(), but the peer gets a RST instead of a FIN (SO_LINGER 0).
  void reset(Function<void()> on_close = {}) override;
  // Gives the connected socket back without closing it, for a caller that wants to keep
  // an idle connection in less memory than a Stream (an HTTP server parking keep-alive
  // connections). Watching stops, nothing more is delivered, and the stream is closed
  // (on_close never runs). Only an idle stream can detach: an invalid Socket comes back
  // if writes are queued, a connect or shutdown is in flight, or unread bytes are buffered.
  Socket detach_socket() override;

  // -- options ---------------------------------------------------------------------
  std::error_code set_no_delay(bool on) noexcept;
  // idle: seconds without traffic before the first probe.
  std::error_code set_keepalive(bool on,
                                std::chrono::seconds idle = std::chrono::seconds(60)) noexcept;
  SocketAddress local_address() const noexcept override;
  SocketAddress peer_address() const noexcept override;
  int fd() const noexcept { return fd_; }

 private:
  struct Guard;

  void stop_for_close() noexcept override;
  void adopt(int fd, int family);
  void release_socket(bool abortive) noexcept;
  bool alive_open() const noexcept { return !is_closing() && !is_closed(); }
  void update_active() noexcept;

  // events (stream_events.cpp)
  void on_io(unsigned events);
  void on_timer();
  void start_timer(Duration after);
  void finish_connect(std::error_code ec);
  // connect(host, port): the resolved addresses and the attempt in progress.
  struct HostConnect;
  void on_host_resolved(std::error_code ec, std::span<const SocketAddress> addrs);
  std::error_code connect_next_address(std::error_code last);
  void request_notify();
  void run_notifications(Guard& g);
  bool has_notifications() const noexcept;
  void run_write_callbacks(Guard& g, std::vector<WriteCallback>& list, std::error_code ec);
  void fail(std::error_code ec);
  void finish_close();

  // reading (src/net/stream_io.cpp)
  void do_read(Guard& g);
  std::size_t read_chunk() const noexcept;
  char* own_read_space(std::size_t chunk);
  void deliver_data(Guard& g, char* data, std::size_t len, bool shared);
  void deliver_pending(Guard& g);
  void keep_pending(const char* data, std::size_t len);

  // writing (src/net/stream_io.cpp)
  bool cannot_write() const noexcept;
  bool can_write_directly() const noexcept;
  template <class Enqueue>
  bool write_through(std::string_view data, WriteCallback& done, Enqueue enqueue);
  std::size_t send_now(std::string_view data);
  bool send_file_front();
  bool complete_now(WriteCallback& done);
  bool after_enqueue();
  bool reject_write(WriteCallback& done);
  void flush();
  void maybe_finish_shutdown();

  StreamOptions options_;
  int fd_ = -1;
  int family_ = AF_UNSPEC;
  std::optional<IoWatcher> watcher_;
  std::unique_ptr<Timer> timer_;               // connect timeout, then deferred notifications
  std::unique_ptr<HostConnect> host_connect_;  // connect(host, port) in progress
  bool* dead_ = nullptr;                       // set by the destructor for the innermost Guard

  // reading: the unconsumed bytes between deliveries, [rbeg_, rend_) of rbuf_ (null when
  // none are pending); delivering_ is the size of the span the data callback is handed.
  std::unique_ptr<char[]> rbuf_;
  std::size_t rcap_ = 0, rbeg_ = 0, rend_ = 0;
  std::size_t delivering_ = 0;
  DataCallback data_cb_;
  Function<void()> end_cb_;
  Function<void(std::error_code)> error_cb_;
  Function<void()> drain_cb_;
  ConnectCallback connect_cb_;
  Function<void()> user_on_close_;

  // writing
  detail::WriteQueue queue_;
  std::vector<WriteCallback> completed_;  // written, callbacks not run yet
  std::vector<WriteCallback> failed_;     // canceled or failed, callbacks not run yet
  WriteCallback shutdown_cb_;
  std::error_code error_;  // the first error (delivered once)
  std::error_code connect_result_;
  unsigned corks_ = 0;

  bool reading_ = false;
  bool connecting_ = false;
  bool maybe_readable_ = false;   // no EAGAIN seen since the last readable edge
  bool hangup_seen_ = false;      // the peer's FIN was reported: read until EOF
  bool resume_read_ = false;      // re-deliver buffered bytes / read in the next pass
  bool in_data_cb_ = false;       // corked by the data callback
  bool in_handler_ = false;       // inside on_io/on_timer: notifications run on exit
  bool notify_armed_ = false;     // the timer is armed for notifications
  bool connect_pending_ = false;  // connect result waiting for delivery
  bool abortive_close_ = false;   // reset(): close with SO_LINGER 0
  bool end_pending_ = false, ended_ = false;
  bool error_pending_ = false;
  bool need_drain_ = false, drain_pending_ = false;
  bool shutdown_requested_ = false, shutdown_done_ = false, shutdown_cb_pending_ = false;
  std::error_code shutdown_result_;
};

using TcpStream = Stream;
using UnixStream = Stream;

}  // namespace weft::net
