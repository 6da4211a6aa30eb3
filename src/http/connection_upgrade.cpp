// A connection after a 101: the transport lent to the upgraded protocol (http/upgrade.hpp).
#include "http/server_impl.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace weft::http {

namespace {

// Writes what the kernel takes now (no queue: a parked connection has none).
std::size_t send_now(int fd, std::string_view bytes) noexcept {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // full (EAGAIN) or failed: the unparked stream queues or reports it
    }
  }
  return sent;
}

}  // namespace

// The 101 head is queued, HTTP parsing stops for good (the caller's loop sees upgraded_),
// no HTTP deadline applies any more, and the protocol starts.
bool Connection::take_over(Request& req, Response& res) {
  if (res.status_code() != 101) return false;  // declined: an ordinary response
  if (server_.closing) {
    res = server_error(req, 503, "Server is closing");
    return false;
  }
  upgraded_ = res.upgraded();
  ++server_.stats.upgraded_open;  // until the connection is gone (parked: still open)
  ++server_.stats.upgrades;
  stop_parsing_ = false;  // the HTTP exchange is over; the protocol decides when to close
  write_head(res, false, req.version_minor(), false);
  note_response(101, inline_started_ns_);
  set_deadline(Deadline::none, {});
  flush_out();
  upgraded_->on_open(*this);
  return true;
}

bool Connection::write(std::string_view bytes) {
  if (closed_) return false;
  note_bytes_out(bytes.size());
  return stream_.write(bytes);
}

bool Connection::write_shared(const std::shared_ptr<const std::string>& bytes) {
  if (closed_) return false;
  note_bytes_out(bytes->size());
  // A small frame goes without a keep-alive callback: a write's callback costs a deferred
  // notification even when the kernel takes the bytes at once (the usual case for a
  // publish to many subscribers); what the socket does not take is copied, at most this.
  constexpr std::size_t kCopyAtMost = 16 * 1024;
  if (bytes->size() <= kCopyAtMost) return stream_.write(std::string_view(*bytes));
  const std::string_view view(*bytes);
  return stream_.write_borrowed(view, [keep = bytes](std::error_code) {});
}

std::size_t Connection::queued_bytes() const noexcept { return stream_.queued_bytes(); }

void Connection::set_high_water_mark(std::size_t bytes) noexcept {
  stream_.set_high_water_mark(bytes);
}

void Connection::pause_input() { stream_.read_stop(); }

void Connection::resume_input() {
  if (!closed_) (void)stream_.read_start();
}

void Connection::shutdown() {
  if (!closed_) stream_.shutdown([](std::error_code) {});  // a failure ends in on_error
}

void Connection::close() { close_now(); }

Loop& Connection::loop() const noexcept { return server_.loop; }

void Connection::resume_upgraded(std::shared_ptr<Upgraded> upgraded) {
  upgraded_ = std::move(upgraded);
  watch_stream();
  upgraded_->on_moved(*this);
}

// ---- parked upgraded connections (http/upgrade.hpp, "Parking") ---------------------------

ParkedUpgrade::ParkedUpgrade(ServerImpl& s, net::Socket sock, std::shared_ptr<Upgraded> up)
    : server(s), socket(std::move(sock)), upgraded(std::move(up)) {}

ParkedUpgrade::~ParkedUpgrade() {
  if (socket) server.parked_upgrade_index.remove(socket.fd());
}

net::Socket ParkedUpgrade::take_socket() noexcept {
  server.parked_upgrade_index.remove(socket.fd());
  return std::move(socket);
}

// What the kernel does not take at once goes to an unparked connection (this one is
// destroyed by then: only locals are used after unpark_upgraded).
bool ParkedUpgrade::write(std::string_view bytes) {
  const std::size_t sent = send_now(socket.fd(), bytes);
  server.metrics.bytes_out(sent);
  if (sent == bytes.size()) return true;
  return server.unpark_upgraded(this).write(bytes.substr(sent));
}

bool ParkedUpgrade::write_shared(const std::shared_ptr<const std::string>& bytes) {
  return write(*bytes);  // taken whole, or the rest is copied into the unparked stream
}

void ParkedUpgrade::pause_input() { server.unpark_upgraded(this).pause_input(); }

void ParkedUpgrade::shutdown() { server.unpark_upgraded(this).shutdown(); }

void ParkedUpgrade::close() { server.unpark_upgraded(this).close(); }

Loop& ParkedUpgrade::loop() const noexcept { return server.loop; }

// The connection object goes; the protocol keeps running on the parked socket. It still
// counts as open and upgraded (stats), and as parked.
void Server::Impl::park_upgraded(Connection* c) {
  std::shared_ptr<Upgraded> up = c->upgraded_;
  net::Socket socket = c->detach_for_park();
  if (!socket) return;
  c->upgraded_.reset();  // parked, not gone: ~Connection neither counts it nor calls on_closed
  (c->prev ? c->prev->next : connections) = c->next;
  if (c->next) c->next->prev = c->prev;
  delete c;
  ParkedUpgrade* p = parked_upgrade_pool.make(*this, std::move(socket), std::move(up));
  p->next = parked_upgrades;
  if (parked_upgrades) parked_upgrades->prev = p;
  parked_upgrades = p;
  ++stats.parked_connections;
  if (parked_upgrade_index.add(p->socket.fd(), p)) {  // cannot be watched: stays a connection
    unpark_upgraded(p);
    return;
  }
  p->upgraded->on_moved(*p);
}

// May run inside p's own watcher callback or one of its UpgradedIo calls: p is gone when
// this returns.
UpgradedIo& Server::Impl::unpark_upgraded(ParkedUpgrade* p) {
  net::Socket socket = p->take_socket();
  std::shared_ptr<Upgraded> up = std::move(p->upgraded);
  (p->prev ? p->prev->next : parked_upgrades) = p->next;
  if (p->next) p->next->prev = p->prev;
  --stats.parked_connections;
  parked_upgrade_pool.destroy(p);
  Connection* c = adopt(std::move(socket));
  c->resume_upgraded(std::move(up));
  return *c;
}

// The server is destroyed: each parked protocol is told its transport is gone.
void Server::Impl::destroy_parked_upgrades() noexcept {
  while (ParkedUpgrade* p = parked_upgrades) {
    parked_upgrades = p->next;
    std::shared_ptr<Upgraded> up = std::move(p->upgraded);
    parked_upgrade_pool.destroy(p);  // closes the socket
    --stats.parked_connections;
    --stats.upgraded_open;
    connection_gone();
    up->on_closed({});
  }
}

}  // namespace weft::http
