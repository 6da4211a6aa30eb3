#include "http/server_workers.hpp"

#include <malloc.h>
#include <sys/socket.h>

#include <cerrno>

#include <algorithm>
#include <ctime>
#include <stdexcept>

namespace weft::http {
namespace {
// Connections parked or gone since the last malloc_trim before the sweep trims again.
constexpr std::size_t kTrimAfterFreeing = 64;

// A parked socket woke up with nothing to read: the peer closed it (EOF) or it failed.
bool peer_gone(int fd) noexcept {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}
}  // namespace

Server::Impl::Impl(Loop& l, ServerShared& sh, LoopCounters& counters)
    : loop(l),
      shared(sh),
      options(sh.options),
      router(sh.router),
      sweep_timer(l),
      date_timer(l),
      close_timer(l),
      parked_index(l, "http parked", [this](ParkedConnection* p) { unpark(p); }),
      parked_upgrade_index(l, "http parked upgrade",
                           [this](ParkedUpgrade* p) { unpark_upgraded(p); }),
      stats(counters),
      metrics(counters.http) {
  update_date();
  date_timer.start([this] { update_date(); }, std::chrono::seconds(1), std::chrono::seconds(1));
  date_timer.unref();
  sweep_timer.start([this] { sweep(); }, sweep_interval(), sweep_interval());
  sweep_timer.unref();
}

bool ConnectionLimit::try_acquire() noexcept {
  std::size_t n = open_.load(std::memory_order_relaxed);
  do {
    if (n >= max_) return false;
  } while (!open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

Server::Impl::~Impl() {
  destroying = true;
  while (Connection* c = connections) {
    connections = c->next;
    delete c;
    connection_gone();  // the counters outlive this share (a failed listen() retries)
  }
  while (ParkedConnection* p = parked) {
    parked = p->next;
    parked_pool.destroy(p);
    --stats.parked_connections;
    connection_gone();
  }
  destroy_parked_upgrades();
}

// Admits a new connection within max_connections (or the shared ConnectionLimit).
bool Server::Impl::admit_connection() {
  if (options.connection_limit) {
    if (!options.connection_limit->try_acquire()) return false;
  } else if (options.max_connections && shared.open_connections() >= options.max_connections) {
    return false;
  }
  ++stats.open_connections;
  return true;
}

void Server::Impl::connection_gone() {
  --stats.open_connections;
  if (options.connection_limit) options.connection_limit->release();
}

std::error_code Server::Impl::listen(const net::SocketAddress& address, bool reuse_port) {
  listener.emplace(loop);
  net::ListenOptions o;
  o.reuse_port = reuse_port;
  o.unlink_existing = true;
  return listener->listen(
      address, [this](net::Socket s) { on_accept(std::move(s)); }, o);
}

ParkedConnection::ParkedConnection(ServerImpl& s, net::Socket sock, TimePoint at)
    : server(s), socket(std::move(sock)), deadline(at) {}

ParkedConnection::~ParkedConnection() {
  if (socket) server.parked_index.remove(socket.fd());
}

net::Socket ParkedConnection::take_socket() noexcept {
  server.parked_index.remove(socket.fd());
  return std::move(socket);
}

// Timeouts are checked at a quarter of the shortest one (at most every 500 ms), so a
// deadline is noticed within 25 % of its length.
Duration Server::Impl::sweep_interval() const {
  Duration shortest =
      std::min({options.headers_timeout, options.request_timeout, options.keep_alive_timeout,
                std::max<Duration>(options.park_idle_after, Duration(1))});
  if (options.lingering_timeout > Duration::zero()) {
    shortest = std::min(shortest, options.lingering_timeout);
  }
  return std::clamp<Duration>(shortest / 4, std::chrono::milliseconds(5),
                              std::chrono::milliseconds(500));
}

void Server::Impl::update_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
  date_line.assign(buf, n);
}

void Server::Impl::on_accept(net::Socket socket) {
  if (closing) return;  // the socket closes as it goes out of scope
  if (!admit_connection()) {
    ++stats.connections_rejected;
    answer_overloaded(socket);
    return;  // the socket closes as it goes out of scope
  }
  ++stats.connections_accepted;
  adopt(std::move(socket))->start();
}

// Over the connection limit: a canned 503 written straight to the new socket (it has
// room: nothing was sent on it yet), the FIN after it, and whatever request bytes already
// arrived read and dropped, so closing sends a FIN rather than a reset that could destroy
// the response before the client read it. Bounded per second (ServerOptions).
void Server::Impl::answer_overloaded(const net::Socket& socket) {
  const TimePoint now = loop.now();
  if (now - overload_window_start >= std::chrono::seconds(1)) {
    overload_window_start = now;
    overload_answered = 0;
  }
  if (overload_answered >= options.overload_responses_per_second) return;
  ++overload_answered;
  if (overload_response.empty()) {
    overload_response = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: " +
                        std::to_string(options.overload_retry_after.count()) +
                        "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 20"
                        "\r\nConnection: close\r\n\r\nService Unavailable\n";
  }
  const int fd = socket.fd();
  (void)::send(fd, overload_response.data(), overload_response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)::shutdown(fd, SHUT_WR);
  char drain[4096];
  while (::recv(fd, drain, sizeof drain, MSG_DONTWAIT) > 0) {
  }
}

Connection* Server::Impl::adopt(net::Socket socket) {
  auto* c = new Connection(*this, std::move(socket));
  c->next = connections;
  if (connections) connections->prev = c;
  connections = c;
  return c;
}

void Server::Impl::park(Connection* c) {
  if (c->upgraded_) return park_upgraded(c);
  const TimePoint deadline = c->idle_deadline();
  net::Socket socket = c->detach_for_park();
  if (!socket) return;
  (c->prev ? c->prev->next : connections) = c->next;
  if (c->next) c->next->prev = c->prev;
  delete c;
  ParkedConnection* p = parked_pool.make(*this, std::move(socket), deadline);
  p->next = parked;
  if (parked) parked->prev = p;
  parked = p;
  ++stats.parked_connections;
  if (parked_index.add(p->socket.fd(), p)) drop_parked(p);  // cannot be watched: closed
}

// Runs inside p's own watcher callback: p is deleted last. A peer that closed its idle
// connection (most wake-ups of a parked socket) is dropped without building a connection.
void Server::Impl::unpark(ParkedConnection* p) {
  if (peer_gone(p->socket.fd())) {
    drop_parked(p);
    return;
  }
  net::Socket socket = p->take_socket();
  unlink_parked(p);
  parked_pool.destroy(p);
  adopt(std::move(socket))->start();
}

void Server::Impl::unlink_parked(ParkedConnection* p) noexcept {
  (p->prev ? p->prev->next : parked) = p->next;
  if (p->next) p->next->prev = p->prev;
  --stats.parked_connections;
}

void Server::Impl::drop_parked(ParkedConnection* p) {
  unlink_parked(p);
  connection_gone();
  ++freed_since_trim;
  parked_pool.destroy(p);  // closes the socket
  maybe_finish_close();
}

void Server::Impl::remove(Connection* c) {
  if (destroying) return;
  (c->prev ? c->prev->next : connections) = c->next;
  if (c->next) c->next->prev = c->prev;
  connection_gone();
  ++freed_since_trim;
  delete c;
  maybe_finish_close();
}

void Server::Impl::sweep() {
  const TimePoint now = loop.now();
  if (listener) stats.connections_shed.set(listener->shed_count());
  for (Connection* c = connections; c;) {
    Connection* next = c->next;  // check_deadline never deletes at once (close phase does)
    if (c->parkable(now)) {
      park(c);
      ++freed_since_trim;
    } else {
      c->check_deadline(now);
    }
    c = next;
  }
  for (ParkedConnection* p = parked; p;) {
    ParkedConnection* next = p->next;
    if (now >= p->deadline) {
      ++stats.timeouts;
      drop_parked(p);
    }
    p = next;
  }
  // Freed connection state is scattered through the heap between live entries (parked
  // ones, other connections), where malloc cannot give it back by itself; after a batch
  // was parked or closed, hand the free pages back.
  if (freed_since_trim >= kTrimAfterFreeing) {
    ::malloc_trim(0);
    freed_since_trim = 0;
  }
}

void Server::Impl::begin_close(Duration deadline, Function<void()> done) {
  if (done) close_done.push_back(std::move(done));
  if (closed) {  // already finished: this callback runs too, later
    maybe_finish_close();
    return;
  }
  if (closing) return;
  closing = true;
  if (listener) listener->close();
  while (parked_upgrades) unpark_upgraded(parked_upgrades);  // each closes as it chooses
  for (Connection* c = connections; c;) {
    Connection* next = c->next;
    c->close_when_idle();
    c = next;
  }
  while (parked) drop_parked(parked);
  close_timer.start(
      [this] {
        for (Connection* c = connections; c; c = c->next) c->close_now();
      },
      deadline);
  maybe_finish_close();
}

void Server::Impl::maybe_finish_close() {
  if (!closing || stats.open_connections) return;
  if (!closed) {
    closed = true;
    // Closed for good: the server's own handles close too, so Loop::close() can succeed
    // while the Server object still exists.
    close_timer.close();
    sweep_timer.close();
    date_timer.close();
    parked_index.close();  // empty: nothing is open
    parked_upgrade_index.close();
    if (listener) listener->close();
  }
  for (auto& done : close_done) loop.defer(std::move(done));
  close_done.clear();
}

// ---- Server --------------------------------------------------------------------------------

Server::Server(Loop& loop, ServerOptions options)
    : state_(std::make_unique<State>(loop, std::move(options))) {}

Server::~Server() = default;

Server& Server::route(std::string_view method, std::string_view pattern, Handler handler,
                      RouteOptions options) {
  if (options.stream_body && !handler.async) {
    throw std::invalid_argument("weft::http: a stream_body route needs a coroutine handler");
  }
  check_not_serving();
  handler.options = options;
  state_->shared.router.add(method, pattern, std::move(handler));
  return *this;
}

Server& Server::mount(std::string_view prefix, Handler handler) {
  if (prefix.empty() || prefix.front() != '/' || prefix.find('*') != std::string_view::npos) {
    throw std::invalid_argument("weft::http: a mount prefix starts with '/' and has no '*'");
  }
  while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
  std::string pattern(prefix);
  pattern.append(prefix == "/" ? "*" : "/*");
  return route("GET", pattern, std::move(handler));
}

Server& Server::use(Middleware m) { return use("", std::move(m)); }

Server& Server::use(std::string_view prefix, Middleware m) {
  check_not_serving();
  if (!prefix.empty() && prefix.front() != '/') {
    throw std::invalid_argument("weft::http: a middleware prefix starts with '/'");
  }
  if (!m.before && !m.after && !m.around && !m.max_body) {
    throw std::invalid_argument("weft::http: use() needs a middleware");
  }
  MiddlewareStack& stack = *state_->shared.middleware;
  stack.any_around = stack.any_around || static_cast<bool>(m.around);
  stack.any_max_body = stack.any_max_body || m.max_body != 0;
  stack.layers.push_back({std::string(prefix), std::move(m)});
  return *this;
}

Server& Server::before(BeforeMiddleware m) { return use(Middleware(std::move(m))); }

Server& Server::after(AfterMiddleware m) {
  check_not_serving();
  state_->shared.middleware->outer_after.push_back(std::move(m));
  return *this;
}

Server& Server::on_error(ErrorHandler handler) {
  check_not_serving();
  state_->shared.middleware->on_error = std::move(handler);
  return *this;
}

// With several loops the routes are read by their threads without a lock: adding one
// while they serve would be a data race.
void Server::check_not_serving() const {
  if (!state_->extras.empty()) {
    throw std::logic_error("weft::http: routes and middleware are added before listen()");
  }
}

std::error_code Server::listen(std::uint16_t port, std::string_view host) {
  std::optional<net::SocketAddress> address = !host.empty() && host.front() == '/'
                                                  ? net::SocketAddress::unix_path(host)
                                                  : net::SocketAddress::parse(host, port);
  if (!address) return std::make_error_code(std::errc::invalid_argument);
  return listen(*address);
}

std::error_code Server::listen(const net::SocketAddress& address) {
  return state_->listen(address);
}

std::uint16_t Server::port() const noexcept {
  const auto& l = state_->impl0.listener;
  return l ? l->port() : 0;
}

void Server::close(Duration deadline, Function<void()> done) {
  state_->close(deadline, std::move(done));
}

bool Server::is_closing() const noexcept { return state_->closing; }
ServerStats Server::stats() const noexcept { return state_->stats(); }
const ServerOptions& Server::options() const noexcept { return state_->shared.options; }
Loop& Server::loop() const noexcept { return state_->loop; }
unsigned Server::workers() const noexcept { return state_->workers(); }

namespace {
// Loop i's metrics; loop 0's EMFILE shed count is read live from its listener on its thread.
HttpMetricsSnapshot loop_snapshot(const ServerState& st, unsigned i) noexcept {
  HttpMetricsSnapshot m = st.shared.counters[i].metrics();
  if (i == 0 && st.impl0.listener && st.loop.on_loop_thread()) {
    m.connections_shed = st.impl0.listener->shed_count();
  }
  return m;
}
}  // namespace

std::vector<HttpMetricsSnapshot> Server::loop_metrics() const {
  std::vector<HttpMetricsSnapshot> out;
  out.reserve(workers());
  for (unsigned i = 0; i < workers(); ++i) out.push_back(loop_snapshot(*state_, i));
  return out;
}

HttpMetricsSnapshot Server::metrics() const noexcept {
  HttpMetricsSnapshot m;
  for (unsigned i = 0; i < workers(); ++i) m.merge(loop_snapshot(*state_, i));
  return m;
}

Server& Server::on_extra_loop(LoopHook start, LoopHook stop) {
  check_not_serving();
  state_->shared.loop_hooks.push_back({std::move(start), std::move(stop)});
  return *this;
}

}  // namespace weft::http
