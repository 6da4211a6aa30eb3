// Stream: reading into the stream's buffer and the write path (direct send, queue,
// writev flush, half-close).
#include "net/socket_ops.hpp"
#include "net/stream_internal.hpp"

#include <sys/socket.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace weft::net {
namespace {

// Reads per readable event before yielding to other handles. Edge-triggered, so a stream
// that hits the limit schedules its own continuation (no new edge would come).
constexpr int kMaxReadsPerEvent = 8;
constexpr int kMaxIov = 64;

bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK; }

// The loop thread's read buffer, shared by all its streams: a read lands here and only
// the bytes the data callback leaves unconsumed are copied into the stream's own storage.
// A thread runs one loop at a time, so reads never overlap; `lent` covers the one way they
// could (a loop run from inside a data callback): such a nested read uses the stream's own
// storage instead.
struct SharedReadBuffer {
  static constexpr std::size_t kSize = 64 * 1024;
  std::unique_ptr<char[]> data;
  bool lent = false;
};
thread_local SharedReadBuffer t_read_buffer;

// Lends the shared buffer (when wanted and free) for one read and its delivery; given
// back even if the stream is destroyed or the callback throws.
struct SharedLease {
  explicit SharedLease(bool want) {
    if (!want || t_read_buffer.lent) return;
    if (!t_read_buffer.data) t_read_buffer.data.reset(new char[SharedReadBuffer::kSize]);
    t_read_buffer.lent = true;
    data = t_read_buffer.data.get();
  }
  ~SharedLease() {
    if (data) t_read_buffer.lent = false;
  }
  SharedLease(const SharedLease&) = delete;
  SharedLease& operator=(const SharedLease&) = delete;
  char* data = nullptr;
};

// Pending storage is allocated in steps of this many bytes (a partial head that trickles
// in byte by byte does not reallocate at every byte).
constexpr std::size_t kPendingStep = 64;

}  // namespace

// ---- reading -------------------------------------------------------------------------

std::error_code Stream::read_start(DataCallback cb) {
  data_cb_ = std::move(cb);
  return read_start();
}

std::error_code Stream::read_start() {
  assert_loop_thread();
  if (!alive_open()) return std::make_error_code(std::errc::bad_file_descriptor);
  if (error_ || connect_result_) return {};  // nothing more will come
  if (ended_ && buffered_bytes() == 0) return {};
  // After the end of input only bytes still buffered (left unconsumed) are re-delivered.
  reading_ = true;
  // Edge-triggered: bytes that arrived while paused raised no new edge, and buffered
  // bytes may hold a complete message. Both are delivered by a notification pass.
  if (fd_ >= 0 && !connecting_ && (maybe_readable_ || buffered_bytes() > 0)) {
    resume_read_ = true;
    request_notify();
  }
  update_active();
  return {};
}

void Stream::read_stop() noexcept {
  reading_ = false;
  update_active();
}

std::size_t Stream::read_chunk() const noexcept {
  return std::clamp<std::size_t>(options_.read_buffer_size, 512, SharedReadBuffer::kSize);
}

// Room for `chunk` more bytes after the pending ones in the stream's own storage, which
// grows geometrically (a large partial message is appended in place, amortized).
char* Stream::own_read_space(std::size_t chunk) {
  const std::size_t held = rend_ - rbeg_;
  if (rcap_ - rend_ >= chunk) return rbuf_.get() + rend_;
  if (rcap_ >= held + chunk) {  // slide the pending bytes to the front
    std::memmove(rbuf_.get(), rbuf_.get() + rbeg_, held);
  } else {
    const std::size_t cap = std::max(held + chunk, std::min(rcap_ * 2, options_.max_read_buffer));
    std::unique_ptr<char[]> bigger(new char[cap]);
    if (held) std::memcpy(bigger.get(), rbuf_.get() + rbeg_, held);
    rbuf_ = std::move(bigger);
    rcap_ = cap;
  }
  rbeg_ = 0;
  rend_ = held;
  return rbuf_.get() + rend_;
}

// Keeps [data, data + len) as the pending bytes (data may point into rbuf_): storage sized
// to them, freed when there are none. Storage at most twice the size (or a read chunk
// more) is kept as it is.
void Stream::keep_pending(const char* data, std::size_t len) {
  if (len == 0) {
    rbuf_.reset();
    rcap_ = rbeg_ = rend_ = 0;
    return;
  }
  if (rcap_ < len || rcap_ > std::max(2 * len, len + read_chunk())) {
    const std::size_t cap = (len + kPendingStep - 1) / kPendingStep * kPendingStep;
    std::unique_ptr<char[]> fitted(new char[cap]);
    std::memcpy(fitted.get(), data, len);
    rbuf_ = std::move(fitted);
    rcap_ = cap;
  } else if (data != rbuf_.get()) {
    std::memmove(rbuf_.get(), data, len);
  }
  rbeg_ = 0;
  rend_ = len;
}

void Stream::do_read(Guard& g) {
  for (int round = 0; round < kMaxReadsPerEvent; ++round) {
    const std::size_t held = rend_ - rbeg_;
    if (held >= options_.max_read_buffer) {
      fail(std::make_error_code(std::errc::no_buffer_space));
      return;
    }
    const std::size_t chunk = std::min(read_chunk(), options_.max_read_buffer - held);
    // A small partial message is copied in front of the read in the shared buffer; a large
    // one is appended to in place (copying it at every read would cost more).
    SharedLease lease(held <= read_chunk() && held + chunk <= SharedReadBuffer::kSize);
    const bool shared = lease.data != nullptr;
    char* base = shared ? lease.data : nullptr;
    if (shared && held) std::memcpy(base, rbuf_.get() + rbeg_, held);
    char* into = shared ? base + held : own_read_space(chunk);
    if (!shared) base = into - held;
    const ssize_t n = ::recv(fd_, into, chunk, 0);
    const int err = errno;  // before keep_pending() frees anything
    if (n > 0) {
      // A short read drained the socket: the next arrival raises a new edge. Not so for
      // a FIN that came with the data (the hangup was already reported): read on to EOF.
      if (static_cast<std::size_t>(n) < chunk && !hangup_seen_) maybe_readable_ = false;
      if (!shared) rend_ += static_cast<std::size_t>(n);
      deliver_data(g, base, held + static_cast<std::size_t>(n), shared);
      if (g.dead || !reading_ || fd_ < 0 || !alive_open() || !maybe_readable_) return;
      continue;
    }
    if (!shared && held == 0) keep_pending(nullptr, 0);  // nothing came: hold nothing
    if (n == 0) {
      maybe_readable_ = false;
      ended_ = true;
      reading_ = false;
      end_pending_ = true;
      update_active();
      return;
    }
    if (err == EINTR) continue;
    if (would_block(err)) {
      maybe_readable_ = false;
      return;
    }
    fail(std::error_code(err, std::system_category()));
    return;
  }
  resume_read_ = true;  // more may be waiting; continue after the others had a turn
}

// Re-delivers the pending bytes (read_start() after a pause), from the stream's storage.
void Stream::deliver_pending(Guard& g) {
  deliver_data(g, rbuf_.get() + rbeg_, rend_ - rbeg_, false);
}

// Hands [data, data + len) to the callback. shared: the bytes are in the shared buffer
// (the pending ones copied in front), and what is left unconsumed is copied out; else
// they are [rbeg_, rend_) of the stream's own storage.
void Stream::deliver_data(Guard& g, char* data, std::size_t len, bool shared) {
  // Corked while the callback runs; uncorked even if it throws (the loop reports the
  // exception and may carry on, and the bytes are delivered again).
  struct Cork {
    Stream& s;
    const bool& dead;
    ~Cork() {
      if (dead) return;
      s.in_data_cb_ = false;
      s.delivering_ = 0;
    }
  } cork{*this, g.dead};
  in_data_cb_ = options_.cork_during_read;
  delivering_ = len;
  std::size_t consumed = len;  // nobody listens: discard
  if (data_cb_) {
    try {
      consumed = call_slot(data_cb_, g.dead, std::span<char>(data, len));
    } catch (...) {
      if (!g.dead && shared) keep_pending(data, len);
      throw;
    }
  }
  if (g.dead) return;
  in_data_cb_ = false;
  delivering_ = 0;
  consumed = std::min(consumed, len);
  if (shared || len - consumed <= read_chunk()) {
    keep_pending(data + consumed, len - consumed);
  } else {
    rbeg_ += consumed;
  }
  if (alive_open() && fd_ >= 0 && !error_ && !queue_.empty() && corks_ == 0) flush();
}

// ---- writing -------------------------------------------------------------------------

namespace {

// Sends what the kernel takes now; returns the byte count, or -1 with errno set.
ssize_t send_some(int fd, std::string_view data) noexcept {
  for (;;) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0 || errno != EINTR) return n;
  }
}

}  // namespace

// The shared path of every in-memory write: try the kernel at once when nothing is
// queued; `enqueue(sent)` queues whatever did not fit.
template <class Enqueue>
bool Stream::write_through(std::string_view data, WriteCallback& done, Enqueue enqueue) {
  assert_loop_thread();
  if (cannot_write()) return reject_write(done);
  std::size_t sent = 0;
  if (can_write_directly()) {
    sent = send_now(data);
    if (error_) return reject_write(done);
    if (sent == data.size()) return complete_now(done);
  }
  enqueue(sent);
  return after_enqueue();
}

bool Stream::write(std::string_view data, WriteCallback done) {
  return write_through(
      data, done, [&](std::size_t sent) { queue_.push_copy(data.substr(sent), std::move(done)); });
}

bool Stream::write(std::string&& data, WriteCallback done) {
  return write_through(data, done, [&](std::size_t sent) {
    queue_.push_owned(std::move(data), sent, std::move(done));
  });
}

bool Stream::write_borrowed(std::string_view data, WriteCallback done) {
  return write_through(data, done, [&](std::size_t sent) {
    queue_.push_borrowed(data.substr(sent), std::move(done));
  });
}

bool Stream::write_file(int fd, std::uint64_t offset, std::size_t len,
                        std::shared_ptr<const void> keep_alive, WriteCallback done) {
  assert_loop_thread();
  if (cannot_write()) return reject_write(done);
  if (len == 0) return complete_now(done);
  const bool direct = can_write_directly();
  queue_.push_file(fd, offset, len, std::move(keep_alive), std::move(done));
  if (direct) flush();
  if (error_) return false;
  return after_enqueue();
}

bool Stream::cannot_write() const noexcept {
  return !alive_open() || error_ || shutdown_requested_ || (fd_ < 0 && !connecting_);
}

bool Stream::can_write_directly() const noexcept {
  return queue_.empty() && corks_ == 0 && !in_data_cb_ && fd_ >= 0 && !connecting_;
}

std::size_t Stream::send_now(std::string_view data) {
  if (data.empty()) return 0;
  const ssize_t n = send_some(fd_, data);
  if (n >= 0) return static_cast<std::size_t>(n);
  if (!would_block(errno)) fail(detail::last_error());
  return 0;
}

bool Stream::complete_now(WriteCallback& done) {
  if (done) {
    completed_.push_back(std::move(done));
    request_notify();
  }
  return true;
}

bool Stream::reject_write(WriteCallback& done) {
  // On a closed stream the callback is dropped (like every callback after close()).
  if (done && alive_open()) {
    failed_.push_back(std::move(done));
    request_notify();
  }
  return false;
}

bool Stream::after_enqueue() {
  update_active();
  if (queue_.bytes() > options_.high_water_mark) {
    need_drain_ = true;
    return false;
  }
  return true;
}

void Stream::uncork() {
  if (corks_ == 0 || --corks_ != 0) return;
  if (alive_open() && fd_ >= 0 && !connecting_ && !error_ && !in_data_cb_ && !queue_.empty()) {
    flush();
  }
}

// Sends from the file range at the front of the queue; false when the socket is full
// (or the stream failed).
bool Stream::send_file_front() {
  const auto f = queue_.front_file();
  for (;;) {
    off_t offset = static_cast<off_t>(f.offset);
    const ssize_t n = ::sendfile(fd_, f.fd, &offset, f.len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (!would_block(errno)) fail(detail::last_error());
      return false;
    }
    if (n == 0) {  // the file is shorter than promised
      fail(std::make_error_code(std::errc::io_error));
      return false;
    }
    queue_.advance(static_cast<std::size_t>(n), completed_);
    return static_cast<std::size_t>(n) == f.len;
  }
}

void Stream::flush() {
  while (!queue_.empty()) {
    if (queue_.front_is_file()) {
      if (!send_file_front()) break;
      continue;
    }
    iovec iov[kMaxIov];
    bool file_follows = false;
    const int count = queue_.fill(iov, kMaxIov, &file_follows);
    std::size_t offered = 0;
    for (int i = 0; i < count; ++i) offered += iov[i].iov_len;
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    // MSG_MORE: a head followed by a file goes out with the file's first bytes.
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | (file_follows ? MSG_MORE : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (would_block(errno)) break;  // the writable edge resumes the flush
      fail(detail::last_error());
      return;
    }
    queue_.advance(static_cast<std::size_t>(n), completed_);
    // A short write means the send buffer is full; the kernel raises a writable edge
    // when space frees up, so trying again now would only return EAGAIN.
    if (static_cast<std::size_t>(n) < offered) break;
  }
  if (!completed_.empty()) request_notify();
  if (queue_.empty()) {
    if (need_drain_) {
      need_drain_ = false;
      drain_pending_ = true;
      request_notify();
    }
    maybe_finish_shutdown();
  }
  update_active();
}

void Stream::shutdown(WriteCallback done) {
  assert_loop_thread();
  if (cannot_write()) {
    reject_write(done);
    return;
  }
  shutdown_requested_ = true;
  shutdown_cb_ = std::move(done);
  maybe_finish_shutdown();
  update_active();
}

void Stream::maybe_finish_shutdown() {
  if (!shutdown_requested_ || shutdown_done_ || !queue_.empty() || fd_ < 0 || connecting_) return;
  shutdown_done_ = true;
  shutdown_result_ = ::shutdown(fd_, SHUT_WR) == 0 ? std::error_code() : detail::last_error();
  shutdown_cb_pending_ = true;
  request_notify();
}

}  // namespace weft::net
