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

bool Stream::reserve_read_space() {
  if (!rbuf_) {
    rcap_ = std::max<std::size_t>(options_.read_buffer_size, 512);
    rbuf_.reset(new char[rcap_]);
  }
  const std::size_t free_tail = rcap_ - rend_;
  if (free_tail >= rcap_ / 4 || (free_tail > 0 && rbeg_ == 0)) return true;
  if (rbeg_ > 0) {  // slide the unconsumed bytes to the front
    std::memmove(rbuf_.get(), rbuf_.get() + rbeg_, rend_ - rbeg_);
    rend_ -= rbeg_;
    rbeg_ = 0;
    if (rend_ < rcap_) return true;
  }
  if (rcap_ >= options_.max_read_buffer) return false;
  const std::size_t cap = std::min(rcap_ * 2, std::max(options_.max_read_buffer, rcap_ + 1));
  std::unique_ptr<char[]> bigger(new char[cap]);
  std::memcpy(bigger.get(), rbuf_.get(), rend_);
  rbuf_ = std::move(bigger);
  rcap_ = cap;
  return true;
}

void Stream::do_read(Guard& g) {
  for (int round = 0; round < kMaxReadsPerEvent; ++round) {
    if (!reserve_read_space()) {
      fail(std::make_error_code(std::errc::no_buffer_space));
      return;
    }
    const std::size_t space = rcap_ - rend_;
    const ssize_t n = ::recv(fd_, rbuf_.get() + rend_, space, 0);
    if (n > 0) {
      rend_ += static_cast<std::size_t>(n);
      // A short read drained the socket: the next arrival raises a new edge. Not so for
      // a FIN that came with the data (the hangup was already reported): read on to EOF.
      if (static_cast<std::size_t>(n) < space && !hangup_seen_) maybe_readable_ = false;
      deliver_data(g);
      if (g.dead || !reading_ || fd_ < 0 || !alive_open() || !maybe_readable_) return;
      continue;
    }
    if (n == 0) {
      maybe_readable_ = false;
      ended_ = true;
      reading_ = false;
      end_pending_ = true;
      update_active();
      return;
    }
    if (errno == EINTR) continue;
    if (would_block(errno)) {
      maybe_readable_ = false;
      return;
    }
    fail(detail::last_error());
    return;
  }
  resume_read_ = true;  // more may be waiting; continue after the others had a turn
}

void Stream::deliver_data(Guard& g) {
  // Corked while the callback runs; uncorked even if it throws (the loop reports the
  // exception and may carry on).
  struct Cork {
    Stream& s;
    const bool& dead;
    ~Cork() {
      if (!dead) s.in_data_cb_ = false;
    }
  } cork{*this, g.dead};
  in_data_cb_ = options_.cork_during_read;
  std::size_t consumed = 0;
  if (data_cb_) {
    consumed = call_slot(data_cb_, g.dead, std::span<char>(rbuf_.get() + rbeg_, rend_ - rbeg_));
  } else {
    consumed = rend_ - rbeg_;  // nobody listens: discard
  }
  if (g.dead) return;
  in_data_cb_ = false;
  rbeg_ += std::min(consumed, rend_ - rbeg_);
  if (rbeg_ == rend_) rbeg_ = rend_ = 0;
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
  return write_through(data, done, [&](std::size_t sent) {
    queue_.push_copy(data.substr(sent), std::move(done));
  });
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
