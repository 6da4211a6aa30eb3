// Many loops: the extra loop threads of a Server (ServerOptions::workers > 1) and the
// State that starts, closes, stops and joins them.
#include "http/server_workers.hpp"

#include <algorithm>
#include <new>
#include <string>

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
  try {
    LoopThreadOptions options{"weft-http-" + std::to_string(setup.index), setup.runtime};
    thread_ = std::make_unique<LoopThread>(std::move(options),
                                           [this, &setup](LoopThread& t) { open(t, setup); });
  } catch (const std::system_error& e) {  // no thread, no loop (EMFILE), or listen() failed
    return e.code();
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  return {};
}

// On the new thread, before its loop runs: this loop's share of the server, listening. At
// the thread's end the share goes first (its handles are the loop's), then loop 0 is told.
void ExtraLoop::open(LoopThread& thread, Setup& setup) {
  impl_ = std::make_unique<ServerImpl>(thread.loop(), *setup.shared, *setup.counters);
  if (std::error_code ec = impl_->listen(setup.address, /*reuse_port=*/true)) {
    impl_.reset();  // before the loop goes
    throw std::system_error(ec);
  }
  const unsigned index = setup.index;
  for (const ServerShared::LoopHooks& h : setup.shared->loop_hooks) {
    if (h.start) h.start(thread.loop(), index);
  }
  thread.on_exit([this, &thread, index, hooks = &setup.shared->loop_hooks, loop0 = setup.loop0,
                  note = std::move(setup.on_exit), alive = std::move(setup.loop0_alive)]() mutable {
    for (auto h = hooks->rbegin(); h != hooks->rend(); ++h) {
      if (h->stop) h->stop(thread.loop(), index);
    }
    impl_.reset();
    loop0->post(std::move(note));
    alive.reset();  // after the post: loop 0 waits for the note
  });
}

// The share closes gracefully; then the loop finishes what is referenced and is stopped at
// the close deadline if a handler left work behind that outlives it.
void ExtraLoop::close(Duration deadline) {
  if (!thread_) return;
  thread_->post([this, deadline] {
    if (!impl_) return;
    const TimePoint at =
        deadline >= kNoDeadline ? TimePoint::max() : thread_->loop().now() + deadline;
    impl_->begin_close(deadline, [this, at] {
      const TimePoint now = thread_->loop().now();
      thread_->stop(at == TimePoint::max() ? Duration::max()
                    : at > now             ? at - now
                                           : Duration::zero());
    });
  });
}

void ExtraLoop::stop() {
  if (!thread_) return;
  thread_->post([this] { impl_.reset(); });  // closes every connection at once, like ~Server
  thread_->stop(Duration::zero());
}

void ExtraLoop::join() {
  if (thread_) thread_->join();
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

HttpMetricsSnapshot LoopCounters::metrics() const noexcept {
  HttpMetricsSnapshot m = http.snapshot();
  m.open_connections = open_connections;
  m.connections_rejected = connections_rejected;
  m.connections_shed = connections_shed;
  m.upgraded_open = upgraded_open;
  m.upgrades = upgrades;
  return m;
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
                                       Loop::KeepAlive(loop), std::move(note), &loop, i});
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
  auto it = std::find_if(extras.begin(), extras.end(),
                         [&](const Extra& e) { return e.serial == serial; });
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
