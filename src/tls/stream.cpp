// tls::Stream: construction, the handshake (inline or on the cpu pool), failure, closing.
// Reading and writing are in stream_io.cpp.
#include "tls/engine.hpp"

#include <weft/loop.hpp>
#include <weft/pool.hpp>
#include <weft/timer.hpp>
#include <weft/tls/stream.hpp>

#include <openssl/err.h>

namespace weft::tls {

namespace {

net::StreamOptions inner_options(net::StreamOptions o) {
  o.cork_during_read = true;  // our flushes made while handling input go out in one writev
  return o;
}

}  // namespace

Stream::Stream(Loop& loop, net::Socket socket, const Context& server, net::StreamOptions options)
    : Transport(loop, HandleKind::other),
      options_(options),
      inner_(loop, std::move(socket), inner_options(options)) {
  init(server, true, {});
}

Stream::Stream(Loop& loop, net::Socket socket, const Context& client, std::string host,
               net::StreamOptions options)
    : Transport(loop, HandleKind::other),
      options_(options),
      inner_(loop, std::move(socket), inner_options(options)) {
  init(client, false, std::move(host));
}

Stream::Stream(Loop& loop, net::Socket socket, const Context& client, std::string host,
               const Session& resume, net::StreamOptions options)
    : Transport(loop, HandleKind::other),
      options_(options),
      inner_(loop, std::move(socket), inner_options(options)) {
  init(client, false, std::move(host), resume);
}

Stream::Stream(Loop& loop, const Context& client, net::StreamOptions options)
    : Transport(loop, HandleKind::other), options_(options), inner_(loop, inner_options(options)) {
  init(client, false, {});
}

Stream::~Stream() {
  if (dead_) *dead_ = true;
  eng_->owner = nullptr;
  release_handshake_slot();
  count_established(false);
}

void Stream::init(const Context& ctx, bool server, std::string host, const Session& resume) {
  set_label(server ? "tls stream (server)" : "tls stream (client)");
  server_ = server;
  eng_ = std::make_shared<detail::Engine>();
  eng_->owner = this;
  ctx_ = ctx.state();
  if (!ctx_) return fail(errc::no_context);
  if (ctx_->server != server) return fail(errc::not_a_server_context);
  eng_->built = ctx_->current();
  detail::make_ssl(*eng_, eng_->built->default_ctx(), server);
  host_ = std::move(host);
  if (!server && !host_.empty()) detail::set_peer_name(*eng_, host_);
  if (!server && resume) SSL_set_session(eng_->ssl, resume.native());
  if (inner_.is_connected()) start_handshake();
}

void Stream::connect(std::string_view host, std::uint16_t port, net::ConnectCallback cb,
                     Duration timeout) {
  connect_cb_ = std::move(cb);
  if (error_ || !eng_->ssl) {
    if (!error_) fail(errc::no_context);
    return;  // fail() delivers error_ to connect_cb_
  }
  host_ = std::string(host);
  detail::set_peer_name(*eng_, host_);
  inner_.connect(
      host, port,
      [this](std::error_code ec) {
        if (ec) {
          error_ = ec;
          if (auto done = std::move(connect_cb_)) done(ec);
          return;
        }
        start_handshake();
      },
      timeout);
}

void Stream::on_handshake(Function<void(std::error_code)> cb) {
  if (hs_done_ || error_) {
    schedule([this, cb = std::move(cb)]() mutable { cb(error_); });
    return;
  }
  hs_cb_ = std::move(cb);
}

// ---- the handshake ---------------------------------------------------------------------

void Stream::start_handshake() {
  if (hs_started_ || error_) return;
  hs_started_ = true;
  const detail::Built& b = *eng_->built;
  if (server_) {
    const std::size_t before = ctx_->handshakes.fetch_add(1, std::memory_order_relaxed);
    hs_counted_ = true;
    if (b.max_handshakes && before >= b.max_handshakes) return fail(errc::handshake_limit);
  }
  if (b.handshake_timeout > Duration::zero()) {
    hs_timer_ = std::make_unique<Timer>(loop());
    hs_timer_->set_label("tls handshake timeout");
    hs_timer_->start([this] { fail(std::make_error_code(std::errc::timed_out)); },
                     b.handshake_timeout);
  }
  inner_.on_end([this] { on_inner_end(); });
  inner_.on_error([this](std::error_code ec) { fail(ec); });
  inner_.on_drain([this] {
    pump();
    check_drain();
  });
  (void)inner_.read_start([this](std::span<char> data) { return on_cipher(data); });
  if (!server_) step_handshake();  // the ClientHello
}

// Whether the next handshake step goes to the cpu pool: configured, the step may sign,
// and (handshake_inline_when_idle) an established connection of this loop would wait for
// it otherwise (step_cost.cpp).
bool Stream::sign_on_pool() const {
  const detail::Built& b = *eng_->built;
  if (!b.handshake_on_pool || !detail::step_may_sign(*eng_)) return false;
  return !b.handshake_inline_when_idle || detail::established_here() > 0;
}

// Counts this (server) stream among its loop's established connections, or stops.
void Stream::count_established(bool on) noexcept {
  if (on == established_counted_ || (on && !server_)) return;
  established_counted_ = on;
  std::size_t& n = detail::established_here();
  if (on) {
    ++n;
  } else if (n > 0) {  // 0: destroyed on another thread than its loop's (not counted there)
    --n;
  }
}

// One SSL_do_handshake call, on the cpu pool when sign_on_pool() (the pool refusing the
// job makes it run here). While it runs there, nothing on the loop touches the SSL object:
// input waits in the inner stream, writes wait as items.
void Stream::step_handshake() {
  if (job_running_ || hs_done_ || error_) return;
  if (sign_on_pool()) {
    job_running_ = true;
    std::shared_ptr<detail::Engine> eng = eng_;
    std::error_code ec = queue_work(
        loop(), WorkClass::cpu, [eng] { return detail::run_step(*eng); },
        [eng](weft::detail::WorkResult<detail::StepResult>& r) {
          if (!eng->owner) return;  // the stream is gone; the last reference frees the SSL
          detail::StepResult step = r ? *r : detail::StepResult{-1, SSL_ERROR_SSL, 0, 0};
          eng->owner->on_step_done(step.ret, step.err, step.ossl_error, step.verify);
        },
        nullptr, "tls handshake");
    if (!ec) {
      ctx_->pool_steps.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    job_running_ = false;
  }
  ctx_->inline_steps.fetch_add(1, std::memory_order_relaxed);
  const detail::StepResult r = detail::run_step(*eng_);
  on_step_done(r.ret, r.err, r.ossl_error, r.verify);
}

void Stream::on_step_done(int ret, int err, unsigned long ossl_error, long verify) {
  job_running_ = false;
  if (is_closing() || is_closed() || error_) return;
  flush_cipher();  // the step's flight (or its alert)
  if (ret == 1) return handshake_finished();
  if (err == SSL_ERROR_WANT_READ) {
    update_inner_reading();  // what arrived during the step is re-delivered
    maybe_truncated();
    return;
  }
  handshake_failed(detail::step_error({ret, err, ossl_error, verify}));
}

void Stream::handshake_finished() {
  hs_done_ = true;
  release_handshake_slot();
  count_established(true);
  hs_timer_.reset();
  SSL* ssl = eng_->ssl;
  const unsigned char* proto = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &len);
  // Views, not copies: the protocol and cipher names are OpenSSL's static strings; the ALPN
  // choice and the SNI name belong to the SSL object, which the stream owns and which does
  // not change them after the handshake (no renegotiation). ~100 bytes less per connection.
  alpn_ = std::string_view(reinterpret_cast<const char*>(proto), proto ? len : 0);
  protocol_ = SSL_get_version(ssl);
  cipher_ = SSL_get_cipher_name(ssl);
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) server_name_ = sni;
  reused_ = SSL_session_reused(ssl) == 1;
  ctx_->handshakes_done.fetch_add(1, std::memory_order_relaxed);
  if (reused_) ctx_->resumed.fetch_add(1, std::memory_order_relaxed);
  schedule([this] {
    if (auto cb = std::move(hs_cb_)) cb({});
    if (auto cb = std::move(connect_cb_)) cb({});
  });
  pump();
  if (need_drain_) schedule([this] { check_drain(); });
  update_inner_reading();
  detail::release_idle_memory(*eng_);  // the flights' record buffers (output flushed already)
  read_plain(false);                   // application data may have come with the last flight
}

void Stream::handshake_failed(std::error_code ec) { fail(ec); }

void Stream::release_handshake_slot() noexcept {
  if (!hs_counted_) return;
  hs_counted_ = false;
  ctx_->handshakes.fetch_sub(1, std::memory_order_relaxed);
}

// ---- failure and notifications -----------------------------------------------------

// The first failure: reading stops, queued writes fail with it, and on_error (plus the
// handshake and connect callbacks, if still owed) run in the next pending phase.
void Stream::fail(std::error_code ec) {
  if (error_ || is_closing() || is_closed()) return;
  error_ = ec;
  count_established(false);
  if (ctx_ && hs_started_ && !hs_done_) {
    ctx_->handshakes_failed.fetch_add(1, std::memory_order_relaxed);
    if (ec == errc::handshake_limit)
      ctx_->handshakes_refused.fetch_add(1, std::memory_order_relaxed);
  }
  release_handshake_slot();
  hs_timer_.reset();
  if (inner_.is_reading()) inner_.read_stop();
  fail_items(ec);
  // Each callback may destroy the stream (a coroutine resumed by the handshake callback
  // that then drops it): the engine outlives it and says whether the stream is still there.
  schedule([this, ec, eng = eng_] {
    if (auto cb = std::move(hs_cb_)) cb(ec);
    if (eng->owner != this) return;
    if (auto cb = std::move(connect_cb_)) cb(ec);
    if (eng->owner != this || is_closing() || is_closed()) return;
    if (error_cb_) error_cb_(ec);
  });
}

void Stream::fail_items(std::error_code ec) {
  std::vector<net::WriteCallback> cbs;
  for (std::size_t i = items_head_; i < items_.size(); ++i) {
    if (items_[i].done) cbs.push_back(std::move(items_[i].done));
  }
  items_.clear();
  items_head_ = 0;
  item_bytes_ = 0;
  if (cbs.empty()) return;
  schedule([cbs = std::move(cbs), ec]() mutable {
    for (auto& cb : cbs) cb(ec);
  });
}

// Runs fn in the next pending phase unless the stream is destroyed first.
void Stream::schedule(Function<void()> fn) {
  loop().defer([eng = eng_, this, fn = std::move(fn)]() mutable {
    if (eng->owner == this) fn();
  });
}

// ---- closing -----------------------------------------------------------------------------

void Stream::close(Function<void()> on_close) {
  if (is_closing() || is_closed()) return;
  // close_notify, best effort: only when it goes out at once (nothing queued ahead of it).
  if (hs_done_ && !job_running_ && !error_ && !shutdown_requested_ && inner_.queued_bytes() == 0 &&
      inner_.is_connected()) {
    ERR_clear_error();
    SSL_shutdown(eng_->ssl);
    ERR_clear_error();
    flush_cipher();
  }
  std::vector<net::WriteCallback> canceled;
  for (std::size_t i = items_head_; i < items_.size(); ++i) {
    if (items_[i].done) canceled.push_back(std::move(items_[i].done));
  }
  inner_.close();
  Handle::close([canceled = std::move(canceled), cb = std::move(on_close)]() mutable {
    for (auto& c : canceled) c(canceled_error());
    if (cb) cb();
  });
}

void Stream::reset(Function<void()> on_close) {
  if (is_closing() || is_closed()) return;
  inner_.reset();
  close(std::move(on_close));
}

void Stream::stop_for_close() noexcept {
  reading_ = false;
  hs_timer_.reset();
  release_handshake_slot();
  count_established(false);
  items_.clear();
  items_head_ = 0;
  item_bytes_ = 0;
  set_active(false);
}

// ---- the coroutine form of the handshake ------------------------------------------------

HandshakeAwaiter::~HandshakeAwaiter() {
  if (h_) *h_ = nullptr;
}

void HandshakeAwaiter::await_suspend(std::coroutine_handle<> h) {
  h_ = std::make_shared<std::coroutine_handle<>>(h);
  ec_ = std::make_shared<std::error_code>();
  s_.on_handshake([hp = h_, ec = ec_](std::error_code e) {
    *ec = e;
    if (*hp) std::exchange(*hp, nullptr).resume();
  });
}

void HandshakeAwaiter::await_resume() {
  std::error_code ec = ec_ ? *ec_ : s_.error();
  if (!ec && !s_.handshake_done()) ec = s_.error();
  if (ec) throw std::system_error(ec);
}

}  // namespace weft::tls
