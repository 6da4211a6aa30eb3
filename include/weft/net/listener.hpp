// Listener: accepts TCP (IPv4/IPv6) or Unix-domain connections. TcpListener and
// UnixListener are the same class; the address given to listen() decides the family.
//
// Accepting. On readiness the listener accepts in a batch until EAGAIN (at most
// ListenOptions::max_accepts_per_event, then it lets other handles run and continues in
// the next iteration). Each connection is handed to the accept callback as a Socket,
// non-blocking and close-on-exec; wrap it in a Stream, or drop it to close it.
//
// Descriptor exhaustion (EMFILE/ENFILE) never makes the loop spin: the listener keeps
// one spare descriptor open (/dev/null); when accept fails for lack of descriptors it
// closes the spare, accepts the pending connection, closes it at once (the client sees
// the connection closed), and reopens the spare — until no connection is pending. It
// keeps serving as soon as descriptors are available again. If even the spare cannot be
// reopened, or accept fails for another resource reason (ENOBUFS, ENOMEM), accepting
// pauses for ListenOptions::retry_delay and the error is reported to on_error.
//
// Cancellation and lifetime: close() stops accepting at once (connections still in the
// kernel's backlog are reset when the socket closes) and removes the Unix socket file it
// created (ListenOptions::unlink_on_close); on_close runs in the close phase. The accept
// callback may close or destroy the listener; no callback runs after that.
// The listener keeps the loop alive while it listens (unref() opts out).
#pragma once

#include <weft/clock.hpp>
#include <weft/function.hpp>
#include <weft/handle.hpp>
#include <weft/io_watcher.hpp>
#include <weft/net/accept.hpp>
#include <weft/net/address.hpp>
#include <weft/net/socket.hpp>
#include <weft/timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

namespace weft::net {

struct ListenOptions {
  int backlog = 511;
  bool reuse_address = true;     // SO_REUSEADDR (TCP): rebind while old connections linger
  bool reuse_port = false;       // SO_REUSEPORT: one listener per loop on the same port
  bool ipv6_only = false;        // IPV6_V6ONLY for IPv6 addresses ("::" then also takes IPv4)
  bool unlink_existing = false;  // Unix: remove a stale socket file before binding
  bool unlink_on_close = true;   // Unix: remove the socket file this listener created
  int max_accepts_per_event = 128;
  Duration retry_delay = std::chrono::milliseconds(100);
};

using AcceptCallback = Function<void(Socket)>;

class Listener : public Handle {
 public:
  explicit Listener(Loop& loop);
  ~Listener() override;

  // Binds, listens and starts accepting. Errors (EADDRINUSE, EACCES, ...) are returned;
  // the listener is then unchanged and may try again. Port 0 picks a free port: read it
  // back with local_address() / port().
  std::error_code listen(const SocketAddress& address, AcceptCallback on_accept,
                         ListenOptions options = {});
  bool is_listening() const noexcept { return fd_ >= 0; }

  // Coroutine mode (accept.hpp): binds and listens without a callback; connections wait
  // in the kernel's backlog until co_await accept() takes them.
  std::error_code listen(const SocketAddress& address, ListenOptions options = {});
  // The next connection as a Stream (with `stream` options). See accept.hpp.
  AcceptAwaiter accept(StreamOptions stream = {}, CancelToken token = {}) noexcept {
    return AcceptAwaiter(*this, stream, std::move(token));
  }

  // Accept failures that were not absorbed (see above). Accepting continues regardless.
  void on_error(Function<void(std::error_code)> cb) { error_cb_ = std::move(cb); }

  // The bound address (with the chosen port).
  const SocketAddress& local_address() const noexcept { return address_; }
  std::uint16_t port() const noexcept { return address_.port(); }
  int fd() const noexcept { return fd_; }

  std::uint64_t accepted_count() const noexcept { return accepted_; }
  // Connections closed unserved because descriptors ran out.
  std::uint64_t shed_count() const noexcept { return shed_; }

 private:
  enum class Shed { shed_one, none_pending, no_spare };
  friend class AcceptAwaiter;

  // coroutine mode (listener_await.cpp)
  std::error_code accept_error() const noexcept;
  Socket try_accept(std::error_code& ec) noexcept;
  void wait_accept(AcceptAwaiter* a);
  void stop_waiting_accept(AcceptAwaiter* a) noexcept;
  void on_accept_ready();
  void fail_accept_waiter() noexcept;

  void stop_for_close() noexcept override;
  void on_readable();
  Shed shed_pending() noexcept;
  void pause_accepting(std::error_code ec);
  void resume_accepting();
  void report(std::error_code ec);
  void release() noexcept;

  int fd_ = -1;
  int family_ = AF_UNSPEC;
  int spare_fd_ = -1;
  ListenOptions options_;
  SocketAddress address_;
  std::string unix_path_;  // the socket file to remove on close
  std::optional<IoWatcher> watcher_;
  std::unique_ptr<Timer> retry_timer_;
  AcceptCallback accept_cb_;
  Function<void(std::error_code)> error_cb_;
  bool* dead_ = nullptr;                    // set by the destructor while on_readable() runs
  bool coroutine_mode_ = false;             // listen() without a callback
  AcceptAwaiter* accept_waiter_ = nullptr;  // the pending co_await accept()
  std::uint64_t accepted_ = 0;
  std::uint64_t shed_ = 0;
};

using TcpListener = Listener;
using UnixListener = Listener;

}  // namespace weft::net
