// The awaitable forms of Stream (include/weft/net/stream_await.hpp), on its callback API.
#include <weft/loop.hpp>
#include <weft/net/stream.hpp>

#include <algorithm>
#include <cstring>

namespace weft::net {
namespace {

std::error_code closed_error() { return std::make_error_code(std::errc::bad_file_descriptor); }
bool is_closed(const Transport& s) { return s.is_closing() || s.is_closed(); }

// A read resumes its coroutine inside the data callback, before the stream advances past
// the bytes it consumed; the coroutine's next read must not count them as buffered (at
// the end of input it would wait for bytes that are gone). Loop thread only.
struct Consuming {
  const Transport* stream = nullptr;
  std::size_t left = 0;  // what stays buffered once the callback returns
};
thread_local Consuming t_consuming;

std::size_t unread_bytes(const Transport& s) {
  return t_consuming.stream == &s ? t_consuming.left : s.buffered_bytes();
}

}  // namespace

// ---- reads ---------------------------------------------------------------------------

namespace detail {

ReadAwaiterBase::~ReadAwaiterBase() { stop_waiting(); }

bool ReadAwaiterBase::ready_without_data() {
  if (token_.cancelled())
    ec_ = canceled_error();
  else if (is_closed(s_))
    eof_ = true;  // close() ends the input for the reader
  else if (s_.error())
    ec_ = s_.error();
  else if (s_.read_ended() && unread_bytes(s_) == 0)
    eof_ = true;
  return ec_ || eof_;
}

void ReadAwaiterBase::suspend(std::coroutine_handle<> h) {
  h_ = h;
  waiting_ = true;
  s_.on_end([this] {
    if (unread_bytes(s_) > 0) {
      s_.read_start();  // bytes before the end are still buffered: they come first
      return;
    }
    eof_ = true;
    stop_waiting();
    h_.resume();
  });
  s_.on_error([this](std::error_code ec) {
    ec_ = ec;
    stop_waiting();
    h_.resume();
  });
  // Resumes inside the data callback: the coroutine's next read or write runs in the
  // same pass (writes are corked until the callback returns). The count is computed
  // before the resume: the awaiter may be gone after it.
  std::error_code ec = s_.read_start([this](std::span<char> data) -> std::size_t {
    bool done = false;
    const std::size_t n = consume(data, done);
    if (done) {
      stop_waiting();
      const Consuming outer = t_consuming;
      t_consuming = {&s_, data.size() - std::min(n, data.size())};
      h_.resume();
      t_consuming = outer;
    }
    return n;
  });
  if (ec) {  // cannot happen after ready_without_data(); fail loudly but safely
    ec_ = ec;
    stop_waiting();
    deferred_.schedule(s_.loop(), h);
    return;
  }
  if (token_.can_be_cancelled()) reg_.attach(token_, [this] { on_cancel(); });
}

void ReadAwaiterBase::on_cancel() {
  ec_ = canceled_error();
  stop_waiting();
  deferred_.schedule(s_.loop(), h_);
}

void ReadAwaiterBase::stop_waiting() noexcept {
  if (!waiting_) return;
  waiting_ = false;
  reg_.detach();
  s_.read_stop();
  s_.on_end([] {});
  s_.on_error([](std::error_code) {});
}

bool ReadAwaiterBase::resume_check() {
  if (ec_) throw std::system_error(ec_);
  return eof_;
}

}  // namespace detail

std::size_t ReadSomeAwaiter::consume(std::span<char> data, bool& done) {
  n_ = std::min(data.size(), buf_.size());
  std::memcpy(buf_.data(), data.data(), n_);
  done = n_ > 0;
  return n_;
}

std::size_t ReadUntilAwaiter::consume(std::span<char> data, bool& done) {
  const std::size_t old = buf_.size();
  buf_.append(data.data(), data.size());
  // The delimiter may straddle the old end: search from delim.size() - 1 before it.
  const std::size_t from = std::max(start_, old >= delim_.size() ? old - delim_.size() + 1 : 0);
  const std::size_t pos = buf_.find(delim_, from);
  if (pos != std::string::npos) {
    buf_.resize(pos + delim_.size());
    done = true;
    return buf_.size() - old;
  }
  if (buf_.size() - start_ > max_) {
    overflow_ = true;
    done = true;
  }
  return data.size();
}

std::size_t ReadUntilAwaiter::await_resume() {
  const bool eof = resume_check();
  (void)eof;
  if (overflow_) throw std::system_error(std::make_error_code(std::errc::no_buffer_space));
  return buf_.size() - start_;
}

Task<std::size_t> Transport::read_exactly(std::span<char> buf, CancelToken token) {
  std::size_t got = 0;
  while (got < buf.size()) {
    const std::size_t n = co_await read_some(buf.subspan(got), token);
    if (n == 0) throw std::system_error(make_error_code(weft::errc::unexpected_eof));
    got += n;
  }
  co_return got;
}

// ---- writes --------------------------------------------------------------------------

WriteAllAwaiter::~WriteAllAwaiter() {
  if (waiter_) waiter_->h = nullptr;
}

bool WriteAllAwaiter::await_ready() {
  if (token_.cancelled())
    ec_ = canceled_error();
  else if (is_closed(s_))
    ec_ = closed_error();
  else if (s_.error())
    ec_ = s_.error();
  if (ec_) return true;
  const std::size_t queued = s_.queued_bytes(), hwm = s_.high_water_mark();
  if (data_.size() > (hwm > queued ? hwm - queued : 0)) return false;
  // Fits below the mark: write() cannot return false for the mark, only for a stream
  // that cannot write (after shutdown: the callback form reports EPIPE).
  if (!data_.empty() && !s_.write(data_))
    ec_ = s_.error() ? s_.error() : std::make_error_code(std::errc::broken_pipe);
  data_ = {};
  return true;
}

bool WriteAllAwaiter::await_suspend(std::coroutine_handle<> h) {
  waiter_ = std::make_shared<detail::WriteWaiter>();
  waiter_->h = h;
  if (pump()) return false;
  if (token_.can_be_cancelled()) {
    reg_.attach(token_, [this, h] {
      ec_ = canceled_error();
      waiter_->h = nullptr;  // later chunk completions resume nothing
      deferred_.schedule(s_.loop(), h);
    });
  }
  return true;
}

// Writes chunks while there is room below the mark (at least one byte per round, so a
// queue at the mark still makes progress); each chunk's callback tells when its bytes
// left the queue. Waits for the last chunk when the queue is above the mark.
bool WriteAllAwaiter::pump() {
  while (!ec_) {
    const std::size_t queued = s_.queued_bytes(), hwm = s_.high_water_mark();
    if (data_.empty() && queued <= hwm) return true;
    if (data_.empty() || (queued >= hwm && seq_ > 0 && waiter_->last_seq == seq_)) {
      waiter_->waiting = true;  // the last chunk's completion resumes the pump
      return false;
    }
    if (is_closed(s_)) {
      ec_ = closed_error();
      return true;
    }
    const std::size_t room = std::max<std::size_t>(hwm > queued ? hwm - queued : 0, 1);
    const std::size_t n = std::min(room, data_.size());
    const std::uint64_t seq = ++seq_;
    waiter_->last_seq = seq;
    std::shared_ptr<detail::WriteWaiter> w = waiter_;
    s_.write(data_.substr(0, n), [this, w = std::move(w), seq](std::error_code ec) {
      if (w->h) on_chunk(seq, ec);
    });
    data_.remove_prefix(n);
  }
  return true;
}

void WriteAllAwaiter::on_chunk(std::uint64_t seq, std::error_code ec) {
  if (ec && !ec_) ec_ = ec;
  if (!waiter_->waiting || (seq != waiter_->last_seq && !ec)) return;
  waiter_->waiting = false;
  if (pump()) {
    reg_.detach();
    std::exchange(waiter_->h, nullptr).resume();
  }
}

void WriteAllAwaiter::await_resume() {
  reg_.detach();
  if (ec_) throw std::system_error(ec_);
}

ShutdownAwaiter::~ShutdownAwaiter() {
  if (waiter_) waiter_->h = nullptr;
}

bool ShutdownAwaiter::await_suspend(std::coroutine_handle<> h) {
  waiter_ = std::make_shared<detail::WriteWaiter>();
  if (token_.cancelled()) {
    waiter_->ec = canceled_error();
    return false;
  }
  if (is_closed(s_)) {
    waiter_->ec = closed_error();
    return false;
  }
  waiter_->h = h;
  s_.shutdown([w = waiter_](std::error_code ec) {
    w->ec = ec;
    if (w->h) std::exchange(w->h, nullptr).resume();
  });
  if (token_.can_be_cancelled()) {
    reg_.attach(token_, [this, h] {
      waiter_->ec = canceled_error();
      waiter_->h = nullptr;  // the FIN goes out later; its completion resumes nothing
      deferred_.schedule(s_.loop(), h);
    });
  }
  return true;
}

void ShutdownAwaiter::await_resume() {
  reg_.detach();
  if (waiter_->ec) throw std::system_error(waiter_->ec);
}

}  // namespace weft::net
