// Many loops: the extra loop threads of a Server (ServerOptions::workers > 1) and the
// State that starts, closes, stops and joins them.
#include "http/server_workers.hpp"

#include <algorithm>
#include <new>

namespace weft::http {
namespace {
// Past this, a close deadline means "no deadline" (and now() + deadline would overflow).
constexpr Duration kNoDeadline = std::chrono::hours(24 * 365);
}  // namespace

// ---- ExtraLoop ---------------------------------------------------------------------------

ExtraLoop::~ExtraLoop() {
  stop();
  join();
}

std::error_code ExtraLoop::start(Setup setup) {
  std::promise<std::error_code> ready;
  std::future<std::error_code> result = ready.get_future();
  try {
    // The thread owns the promise: the starter may return the moment the value is set.
    thread_ = std::thread([this, s = std::move(setup), r = std::move(ready)]() mutable {
      run(std::move(s), r);
    });
  } catch (const std::system_error& e) {  // no thread (EAGAIN): setup went with it
    return e.code();
  }
  return result.get();
}

// The loop thread, start to end.
void ExtraLoop::run(Setup setup, std::promise<std::error_code>& ready) {
  const std::error_code ec = open(setup);
  if (!ec) {
    std::lock_guard lock(mutex_);
    loop_ = &*own_loop_;
  }
  ready.set_value(ec);
  if (!ec) own_loop_->run();
  {
    std::lock_guard lock(mutex_);
    loop_ = nullptr;
  }
  stop_timer_.reset();
  impl_.reset();
  if (own_loop_) {
    (void)own_loop_->close();  // busy if a handler left handles: ~Loop detaches them
    own_loop_.reset();
  }
  setup.loop0->post(std::move(setup.on_exit));
  setup.loop0_alive.reset();  // after the post: loop 0 waits for the note
}

// This thread's Loop (on the shared pools) and its share of the server, listening.
std::error_code ExtraLoop::open(Setup& setup) {
  try {
    own_loop_.emplace(LoopOptions{.runtime = setup.runtime});
    impl_ = std::make_unique<Server::Impl>(*own_loop_, *setup.shared, *setup.counters);
    return impl_->listen(setup.address, /*reuse_port=*/true);
  } catch (const std::system_error& e) {  // the loop's descriptors (EMFILE, ...)
    return e.code();
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

bool ExtraLoop::post(Function<void()> fn) {
  std::lock_guard lock(mutex_);
  if (!loop_) return false;
  loop_->post(std::move(fn));
  return true;
}

void ExtraLoop::close(Duration deadline) {
  post([this, deadline] {
    if (!impl_) return;
    const TimePoint at = deadline >= kNoDeadline ? TimePoint::max() : own_loop_->now() + deadline;
    impl_->begin_close(deadline, [this, at] { stop_at(at); });
  });
}

// The share has closed: the loop ends by itself once nothing referenced is left, and is
// stopped at the close deadline if a handler left work behind that outlives it.
void ExtraLoop::stop_at(TimePoint at) {
  if (at == TimePoint::max()) return;
  const TimePoint now = own_loop_->now();
  stop_timer_.emplace(*own_loop_);
  stop_timer_->start([this] { own_loop_->stop(); }, at > now ? at - now : Duration::zero());
  stop_timer_->unref();
}

void ExtraLoop::stop() {
  post([this] {
    stop_timer_.reset();
    impl_.reset();  // closes every connection at once, like destroying a Server
    own_loop_->stop();
  });
}

void ExtraLoop::join() {
  if (thread_.joinable()) thread_.join();
}

// ---- State ---------------------------------------------------------------------------------

ServerShared::ServerShared(ServerOptions o) : options(std::move(o)) {
  if (options.workers == 0) options.workers = std::max(1u, std::thread::hardware_concurrency());
  counters = std::make_unique<LoopCounters[]>(options.workers);
}

std::size_t ServerShared::open_connections() const noexcept {
  std::size_t n = 0;
  for (unsigned i = 0; i < options.workers; ++i) n += counters[i].open_connections;
  return n;
}

void LoopCounters::add_to(ServerStats& s) const noexcept {
  s.connections_accepted += connections_accepted;
  s.connections_rejected += connections_rejected;
  s.requests += requests;
  s.parse_errors += parse_errors;
  s.handler_errors += handler_errors;
  s.timeouts += timeouts;
  s.open_connections += open_connections;
  s.parked_connections += parked_connections;
}

Server::State::State(Loop& l, ServerOptions options)
    : loop(l), shared(std::move(options)), impl0(l, shared, shared.counters[0]) {}

Server::State::~State() {
  token->state = nullptr;  // notes still queued on loop 0 find nothing
  stop_extras();
}

void Server::State::stop_extras() noexcept {
  for (Extra& e : extras) e.loop->stop();
  for (Extra& e : extras) e.loop->join();
  extras.clear();
}

std::error_code Server::State::listen(const net::SocketAddress& address) {
  const unsigned n = workers();
  if (n > 1 && address.is_unix()) return std::make_error_code(std::errc::invalid_argument);
  // Once per server with several loops (each loop has one counter slot and one listener).
  if (!extras.empty()) return std::make_error_code(std::errc::already_connected);
  if (auto ec = impl0.listen(address, n > 1 || shared.options.reuse_port)) return ec;
  net::SocketAddress bound = address;
  bound.set_port(impl0.listener->port());  // port 0: every loop on the port loop 0 got
  for (unsigned i = 1; i < n; ++i) {
    const std::uint64_t serial = next_serial++;
    auto note = [t = token, serial] {
      if (State* s = t->state) s->on_extra_exit(serial);
    };
    auto extra = std::make_unique<ExtraLoop>();
    std::error_code ec = extra->start({loop.runtime_ptr(), &shared, &shared.counters[i], bound,
                                       Loop::KeepAlive(loop), std::move(note), &loop});
    if (ec) {
      extra->join();
      stop_extras();
      impl0.listener.reset();  // port() is 0 again; listen() may be called again
      return ec;
    }
    extras.push_back({serial, std::move(extra)});
  }
  return {};
}

void Server::State::on_extra_exit(std::uint64_t serial) {
  auto it = std::find_if(extras.begin(), extras.end(), [&](const Extra& e) { return e.serial == serial; });
  if (it == extras.end() || it->exited) return;
  it->loop->join();  // the thread is past its last step
  it->exited = true;
  maybe_finish_close();
}

void Server::State::close(Duration deadline, Function<void()> done) {
  if (done) close_done.push_back(std::move(done));
  if (closing) {
    maybe_finish_close();  // already finished: this callback runs too, later
    return;
  }
  closing = true;
  for (Extra& e : extras) {
    if (!e.exited) e.loop->close(deadline);
  }
  impl0.begin_close(deadline, [t = token] {
    if (State* s = t->state) {
      s->impl0_closed = true;
      s->maybe_finish_close();
    }
  });
}

// Every loop's share has closed and every extra thread was joined: the callbacks run (in
// the next pending phase, never inside close()).
void Server::State::maybe_finish_close() {
  if (!closing || !impl0_closed) return;
  for (const Extra& e : extras) {
    if (!e.exited) return;
  }
  closed = true;
  for (auto& done : close_done) loop.defer(std::move(done));
  close_done.clear();
}

ServerStats Server::State::stats() const noexcept {
  ServerStats s;
  for (unsigned i = 0; i < workers(); ++i) shared.counters[i].add_to(s);
  return s;
}

}  // namespace weft::http
