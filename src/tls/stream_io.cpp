// tls::Stream: reading (ciphertext in, plaintext delivered) and writing (plaintext items
// encrypted into the inner stream's queue).
#include "tls/engine.hpp"

#include <weft/loop.hpp>
#include <weft/tls/stream.hpp>

#include <openssl/err.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace weft::tls {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;  // one TLS record's plaintext at most
constexpr std::size_t kFileChunk = 64 * 1024;  // write_file: bytes read per pass

// Plaintext of one SSL_read, shared by every stream of the thread (one loop per thread;
// a delivery never overlaps another on the same thread: read_start() defers).
thread_local char t_plain[kReadChunk];

}  // namespace

// ---- reading ---------------------------------------------------------------------------

std::error_code Stream::read_start(net::DataCallback cb) {
  if (is_closing() || is_closed()) return std::make_error_code(std::errc::bad_file_descriptor);
  data_cb_ = std::move(cb);
  return read_start();
}

std::error_code Stream::read_start() {
  if (is_closing() || is_closed()) return std::make_error_code(std::errc::bad_file_descriptor);
  if (error_) return {};
  reading_ = true;
  update_inner_reading();
  if (hs_done_ && !delivering_) {
    schedule([this] { read_plain(true); });
  }
  return {};
}

void Stream::read_stop() noexcept {
  reading_ = false;
  if (!delivering_) update_inner_reading();
}

// The inner stream reads while the handshake needs input or the user reads, and never
// while a step runs on the pool (its input waits in the inner stream meanwhile).
void Stream::update_inner_reading() {
  if (is_closing() || is_closed()) return;
  const bool want = !error_ && !job_running_ && !ended_ && hs_started_ && (!hs_done_ || reading_);
  if (want && !inner_.is_reading()) {
    (void)inner_.read_start();
  } else if (!want && inner_.is_reading()) {
    inner_.read_stop();
  }
}

std::size_t Stream::on_cipher(std::span<char> data) {
  if (job_running_ || error_) {
    inner_.read_stop();
    return error_ ? data.size() : 0;
  }
  if (!hs_done_) {
    detail::feed(*eng_, data.data(), data.size());  // copied: a step may run on the pool
    step_handshake();
    return data.size();  // (this stream may be gone now: touch nothing)
  }
  // Established: OpenSSL reads the records straight from the inner stream's buffer; what
  // it leaves (a reader that paused) is copied out before the buffer is reused.
  bool dead = false;
  bool* outer = std::exchange(dead_, &dead);
  detail::lend(*eng_, data.data(), data.size());
  read_plain(false);
  if (dead) {
    if (outer) *outer = true;
    return data.size();
  }
  dead_ = outer;
  detail::keep_unread(*eng_);
  return data.size();
}

void Stream::on_inner_end() {
  inner_eof_ = true;
  maybe_truncated();
}

// The peer's FIN is an error unless close_notify came first (the data may have been cut).
// Decided once every byte before the FIN went through OpenSSL: not while a step runs or
// input waits in the inner stream, nor while a paused reader leaves records in OpenSSL.
void Stream::maybe_truncated() {
  if (!inner_eof_ || ended_ || error_ || job_running_ || inner_.buffered_bytes() > 0) return;
  if (hs_done_ && (detail::unread(*eng_) > 0 || SSL_pending(eng_->ssl) > 0)) return;
  fail(errc::truncated);
}

// Decrypts and delivers while the user reads. redeliver: hand over the bytes left
// unconsumed first (read_start()).
void Stream::read_plain(bool redeliver) {
  if (!hs_done_ || delivering_ || error_ || is_closing() || is_closed()) return;
  bool dead = false;
  bool* outer = std::exchange(dead_, &dead);
  auto gone = [&] {
    if (!dead) return false;
    if (outer) *outer = true;
    return true;
  };
  if (redeliver && reading_ && !plain_.empty()) {
    deliver({});
    if (gone()) return;
  }
  while (reading_ && !ended_ && !error_ && !is_closing() && !is_closed()) {
    detail::clear_errors();
    const int n = SSL_read(eng_->ssl, t_plain, static_cast<int>(kReadChunk));
    if (n > 0) {
      deliver(std::span<char>(t_plain, static_cast<std::size_t>(n)));
      if (gone()) return;
      // No ciphertext left and none inside OpenSSL: another SSL_read would only say
      // WANT_READ (saves a call, its error-queue clearing and SSL_get_error per request).
      if (detail::unread(*eng_) == 0 && SSL_has_pending(eng_->ssl) == 0) break;
      continue;
    }
    const int err = SSL_get_error(eng_->ssl, n);
    if (err == SSL_ERROR_WANT_READ) break;
    if (err == SSL_ERROR_ZERO_RETURN) {  // close_notify: the end of input
      ended_ = close_notify_seen_ = true;
      schedule([this] {
        if (!is_closing() && !is_closed() && end_cb_) end_cb_();
      });
      break;
    }
    fail(detail::ssl_error(eng_->ssl, n));
    break;
  }
  dead_ = outer;
  if (!is_closing() && !is_closed()) flush_cipher();  // alerts, key updates, refusals
  update_inner_reading();
  maybe_truncated();
}

// Hands the data callback every unconsumed byte: plain_ (leftovers) followed by `fresh`,
// again while it consumes some and keeps reading (a reader taking a few bytes at a time).
// Leftovers are kept in plain_, sized to what is pending (an idle stream holds none).
void Stream::deliver(std::span<char> fresh) {
  if (!plain_.empty()) {
    plain_.append(fresh.data(), fresh.size());
    fresh = {};
  }
  for (;;) {
    std::span<char> all = plain_.empty() ? fresh : std::span<char>(plain_.data(), plain_.size());
    if (all.empty()) break;
    delivering_ = true;
    delivering_size_ = all.size();
    bool dead = false;
    bool* outer = std::exchange(dead_, &dead);
    const std::size_t used = std::min(data_cb_ ? data_cb_(all) : all.size(), all.size());
    if (dead) {
      if (outer) *outer = true;
      return;
    }
    dead_ = outer;
    delivering_ = false;
    if (all.data() == plain_.data()) {
      plain_.erase(0, used);
    } else {
      plain_.assign(all.data() + used, all.size() - used);
      fresh = {};
    }
    if (plain_.empty()) std::string().swap(plain_);
    if (used == 0 && plain_.size() >= options_.max_read_buffer) {
      fail(std::make_error_code(std::errc::no_buffer_space));
    }
    if (used == 0 || !reading_ || error_ || is_closing() || is_closed()) break;
  }
  if (!reading_) update_inner_reading();
}

// ---- writing ---------------------------------------------------------------------------

std::size_t Stream::queued_bytes() const noexcept { return inner_.queued_bytes() + item_bytes_; }

void Stream::set_high_water_mark(std::size_t bytes) noexcept {
  options_.high_water_mark = bytes;
  inner_.set_high_water_mark(bytes);
}

bool Stream::can_encrypt() const noexcept {
  return hs_done_ && !job_running_ && corks_ == 0 && !error_ && items_head_ == items_.size() &&
         !inner_.needs_drain();
}

bool Stream::reject(net::WriteCallback& done) {
  if (is_closing() || is_closed()) return false;  // the callback is dropped (net's rule)
  std::error_code ec = error_ ? error_ : std::make_error_code(std::errc::broken_pipe);
  if (done) schedule([cb = std::move(done), ec]() mutable { cb(ec); });
  return false;
}

bool Stream::below_mark() {
  const bool below = queued_bytes() <= options_.high_water_mark;
  if (!below) need_drain_ = true;
  return below;
}

bool Stream::write(std::string_view data, net::WriteCallback done) {
  if (error_ || shutdown_requested_ || is_closing() || is_closed()) return reject(done);
  if (can_encrypt()) {
    encrypt(data, std::move(done));
    return below_mark();
  }
  detail::Item item;
  item.data.assign(data);
  item.done = std::move(done);
  return enqueue(std::move(item));
}

bool Stream::write(std::string&& data, net::WriteCallback done) {
  if (error_ || shutdown_requested_ || is_closing() || is_closed()) return reject(done);
  if (can_encrypt()) {
    encrypt(data, std::move(done));
    return below_mark();
  }
  detail::Item item;
  item.data = std::move(data);
  item.done = std::move(done);
  return enqueue(std::move(item));
}

bool Stream::write_borrowed(std::string_view data, net::WriteCallback done) {
  if (error_ || shutdown_requested_ || is_closing() || is_closed()) return reject(done);
  if (can_encrypt()) {
    encrypt(data, std::move(done));  // the ciphertext is a copy: data may go now
    return below_mark();
  }
  detail::Item item;
  item.kind = detail::Item::Kind::borrowed;
  item.ptr = data.data();
  item.len = data.size();
  item.done = std::move(done);
  return enqueue(std::move(item));
}

bool Stream::write_file(int fd, std::uint64_t offset, std::size_t len,
                        std::shared_ptr<const void> keep_alive, net::WriteCallback done) {
  if (error_ || shutdown_requested_ || is_closing() || is_closed()) return reject(done);
  detail::Item item;
  item.kind = detail::Item::Kind::file;
  item.fd = fd;
  item.offset = offset;
  item.len = len;
  item.keep_alive = std::move(keep_alive);
  item.done = std::move(done);
  return enqueue(std::move(item));
}

void Stream::shutdown(net::WriteCallback done) {
  if (is_closing() || is_closed()) return;
  if (error_ || shutdown_requested_) {
    (void)reject(done);
    return;
  }
  shutdown_requested_ = true;
  detail::Item item;
  item.kind = detail::Item::Kind::shutdown;
  item.done = std::move(done);
  (void)enqueue(std::move(item));
}

void Stream::uncork() {
  if (corks_ == 0 || --corks_ > 0) return;
  pump();
  if (need_drain_) schedule([this] { check_drain(); });
}

bool Stream::enqueue(detail::Item&& item) {
  item_bytes_ += item.size();
  items_.push_back(std::move(item));
  pump();
  return below_mark();
}

// Encrypts everything queued while the inner stream is below its mark (a file range a
// chunk at a time); stops at the mark and continues on the inner stream's drain.
void Stream::pump() {
  if (!hs_done_ || job_running_ || corks_ > 0 || error_ || is_closing() || is_closed()) return;
  inner_.cork();
  while (items_head_ < items_.size() && !error_) {
    detail::Item& item = items_[items_head_];
    if (inner_.needs_drain() && item.kind != detail::Item::Kind::shutdown) break;
    const bool finished = pump_item(item);  // a file range may take several passes
    if (error_) break;                      // fail() emptied the items
    if (finished) ++items_head_;
  }
  if (items_head_ == items_.size()) {
    items_.clear();
    items_head_ = 0;
  }
  inner_.uncork();
}

// True when the item is finished.
bool Stream::pump_item(detail::Item& item) {
  using Kind = detail::Item::Kind;
  switch (item.kind) {
    case Kind::bytes:
      item_bytes_ -= item.data.size();
      encrypt(item.data, std::move(item.done));
      return true;
    case Kind::borrowed:
      item_bytes_ -= item.len;
      encrypt(std::string_view(item.ptr, item.len), std::move(item.done));
      return true;
    case Kind::file:
      return pump_file(item);
    case Kind::shutdown:
      ERR_clear_error();
      SSL_shutdown(eng_->ssl);  // queues close_notify
      ERR_clear_error();
      flush_cipher();
      inner_.shutdown(std::move(item.done));
      return true;
  }
  return true;
}

bool Stream::pump_file(detail::Item& item) {
  thread_local std::string chunk;
  chunk.resize(std::min(item.len, kFileChunk));
  const ssize_t n = ::pread(item.fd, chunk.data(), chunk.size(), static_cast<off_t>(item.offset));
  if (n <= 0) {  // a file shorter than announced: the peer would wait forever (net's rule)
    fail(std::make_error_code(n < 0 ? std::errc(errno) : std::errc::io_error));
    return true;
  }
  const auto got = static_cast<std::size_t>(n);
  item.offset += got;
  item.len -= got;
  item_bytes_ -= got;
  const bool last = item.len == 0;
  encrypt(std::string_view(chunk.data(), got), last ? std::move(item.done) : net::WriteCallback{});
  if (last) item.keep_alive.reset();
  return last;
}

void Stream::encrypt(std::string_view data, net::WriteCallback done) {
  detail::clear_errors();
  while (!data.empty()) {
    const int len = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
    const int n = SSL_write(eng_->ssl, data.data(), len);
    if (n <= 0) {
      const std::error_code ec = detail::ssl_error(eng_->ssl, n);
      if (done) schedule([cb = std::move(done), ec]() mutable { cb(ec); });
      fail(ec);
      return;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  flush_cipher(std::move(done));
}

// Moves OpenSSL's output into the inner stream; `done` runs once those bytes are sent.
void Stream::flush_cipher(net::WriteCallback done) {
  std::string out = detail::take_output(*eng_);
  if (out.empty()) {
    if (done) inner_.write(std::string_view(), std::move(done));
    return;
  }
  inner_.write(std::move(out), std::move(done));
}

void Stream::check_drain() {
  if (!need_drain_ || items_head_ != items_.size() || inner_.needs_drain()) return;
  if (is_closing() || is_closed() || error_) return;
  need_drain_ = false;
  if (drain_cb_) drain_cb_();
}

}  // namespace weft::tls
