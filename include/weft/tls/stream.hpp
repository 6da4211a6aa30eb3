// tls::Stream: TLS over a net::Stream, with net::Stream's callback and coroutine API
// (net::Transport), so code written against a Transport& serves either.
//
//   tls::Stream s(loop, std::move(accepted_socket), server_context);   // server side
//   tls::Stream c(loop, client_context);                               // client side
//   c.connect("example.com", 443, [](std::error_code ec) { ... });     // after the handshake
//   co_await c.handshake();                                           // or await it
//
// OpenSSL runs over two memory BIOs: the socket belongs to the inner net::Stream, which
// moves ciphertext; the SSL object only ever sees memory. Handshake steps of a server
// (ServerConfig::handshake_on_pool) run on the cpu pool: while a step runs there, the
// loop does not touch the SSL object (incoming bytes wait in the inner stream, writes
// wait as plaintext), and the step's output is written when its completion runs on the
// loop. docs/ARCHITECTURE.md ("TLS") has the full rule.
//
// Differences from net::Stream's contract (stream.hpp), all following from TLS:
//  * writes made before the handshake completes are queued as plaintext and encrypted
//    once it has; queued_bytes() counts them. write_file() reads the file range in
//    chunks on the loop (pread) and encrypts it: no sendfile over TLS.
//  * shutdown() sends close_notify, then FIN. close() sends close_notify when it can do
//    so without waiting (best effort), then closes the socket.
//  * the peer's close_notify is the end of input (on_end); a FIN without close_notify
//    is an error (tls::errc::truncated), since the data may have been cut.
//  * handshake failures arrive through on_error and the handshake callback: weft.tls.verify
//    (the peer's certificate), weft.tls.openssl (protocol), timed_out (handshake timeout),
//    tls::errc::handshake_limit (too many in progress).
//  * detach_socket() always returns an invalid Socket.
#pragma once

#include <weft/net/stream.hpp>
#include <weft/net/transport.hpp>
#include <weft/tls/context.hpp>
#include <weft/tls/error.hpp>
#include <weft/tls/session.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace weft::tls {

namespace detail {
struct Engine;
// A write waiting to be encrypted: bytes (owned or borrowed), a file range, or the
// close_notify + FIN of shutdown().
struct Item {
  enum class Kind : unsigned char { bytes, borrowed, file, shutdown } kind = Kind::bytes;
  std::string data;
  const char* ptr = nullptr;  // borrowed
  std::size_t len = 0;        // borrowed / file: bytes left
  int fd = -1;
  std::uint64_t offset = 0;
  std::shared_ptr<const void> keep_alive;
  net::WriteCallback done;
  std::size_t size() const noexcept { return kind == Kind::bytes ? data.size() : len; }
};
}  // namespace detail

class HandshakeAwaiter;

class Stream final : public net::Transport {
 public:
  // Server side: adopts an accepted socket and starts the handshake at once.
  Stream(Loop& loop, net::Socket socket, const Context& server, net::StreamOptions options = {});
  // Client side over a connected socket: starts the handshake for `host` (SNI and the
  // certificate's name check; an IP literal is checked as an address, without SNI).
  Stream(Loop& loop, net::Socket socket, const Context& client, std::string host,
         net::StreamOptions options = {});
  // The same, offering `resume` (from an earlier stream to the same server) for an
  // abbreviated handshake; session_reused() says whether the server took it.
  Stream(Loop& loop, net::Socket socket, const Context& client, std::string host,
         const Session& resume, net::StreamOptions options = {});
  // Client side, unconnected: connect() then handshakes.
  Stream(Loop& loop, const Context& client, net::StreamOptions options = {});
  ~Stream() override;

  // Connects (net::Stream::connect(host, port)) and handshakes; cb runs once with the
  // first failure or {} when the handshake is complete. timeout covers the connect only
  // (the handshake has the Context's handshake_timeout).
  void connect(std::string_view host, std::uint16_t port, net::ConnectCallback cb,
               Duration timeout = Duration::zero());
  // cb runs once when the handshake completes or fails (not inside this call).
  void on_handshake(Function<void(std::error_code)> cb);
  HandshakeAwaiter handshake() noexcept;
  bool handshake_done() const noexcept { return hs_done_; }

  // After the handshake (empty before): the negotiated ALPN protocol, "TLSv1.3" /
  // "TLSv1.2", the cipher, the SNI name the client sent, whether the session was resumed.
  std::string_view alpn() const noexcept { return alpn_; }
  std::string_view protocol() const noexcept { return protocol_; }
  std::string_view cipher() const noexcept { return cipher_; }
  std::string_view server_name() const noexcept { return server_name_; }
  bool session_reused() const noexcept { return reused_; }
  // Client side, after the handshake: the session to offer on the next connection to this
  // server; empty when there is none to resume (TLS 1.3 sends it after the handshake, so
  // it is there once some application data was read). session.cpp.
  Session session() const;

  // -- net::Transport ------------------------------------------------------------------
  std::error_code read_start(net::DataCallback cb) override;
  std::error_code read_start() override;
  void read_stop() noexcept override;
  bool is_reading() const noexcept override { return reading_; }
  std::size_t buffered_bytes() const noexcept override {
    return delivering_ ? delivering_size_ : plain_.size();
  }
  void on_end(Function<void()> cb) override { end_cb_ = std::move(cb); }
  void on_error(Function<void(std::error_code)> cb) override { error_cb_ = std::move(cb); }
  void on_drain(Function<void()> cb) override { drain_cb_ = std::move(cb); }
  bool read_ended() const noexcept override { return ended_; }
  std::error_code error() const noexcept override { return error_; }

  bool write(std::string_view data, net::WriteCallback done = {}) override;
  bool write(std::string&& data, net::WriteCallback done = {}) override;
  bool write(const char* data, net::WriteCallback done = {}) {
    return write(std::string_view(data), std::move(done));
  }
  bool write_borrowed(std::string_view data, net::WriteCallback done) override;
  bool write_file(int fd, std::uint64_t offset, std::size_t len,
                  std::shared_ptr<const void> keep_alive, net::WriteCallback done = {}) override;
  void cork() noexcept override { ++corks_; }
  void uncork() override;
  void shutdown(net::WriteCallback done) override;
  using Transport::shutdown;  // the awaitable form
  std::size_t queued_bytes() const noexcept override;
  std::size_t high_water_mark() const noexcept override { return options_.high_water_mark; }
  void set_high_water_mark(std::size_t bytes) noexcept override;
  bool needs_drain() const noexcept override { return need_drain_; }

  void close(Function<void()> on_close = {}) override;
  void reset(Function<void()> on_close = {}) override;
  net::Socket detach_socket() override { return {}; }
  net::SocketAddress local_address() const noexcept override { return inner_.local_address(); }
  net::SocketAddress peer_address() const noexcept override { return inner_.peer_address(); }

  // The underlying socket stream (for options such as keep-alive; not for I/O).
  net::Stream& socket_stream() noexcept { return inner_; }

 private:
  void stop_for_close() noexcept override;
  void init(const Context& ctx, bool server, std::string host, const Session& resume = {});
  void start_handshake();
  void step_handshake();
  void on_step_done(int ret, int err, unsigned long ossl_error, long verify);
  void handshake_finished();
  void handshake_failed(std::error_code ec);
  void release_handshake_slot() noexcept;
  bool sign_on_pool() const;
  void count_established(bool on) noexcept;
  std::size_t on_cipher(std::span<char> data);
  void on_inner_end();
  void maybe_truncated();
  void update_inner_reading();
  void read_plain(bool redeliver);
  void deliver(std::span<char> fresh);
  void flush_cipher(net::WriteCallback done = {});
  void encrypt(std::string_view data, net::WriteCallback done);
  bool reject(net::WriteCallback& done);
  bool below_mark();
  bool enqueue(detail::Item&& item);
  void pump();
  bool pump_item(detail::Item& item);
  bool pump_file(detail::Item& item);
  void fail(std::error_code ec);
  void schedule(Function<void()> fn);
  void check_drain();
  void fail_items(std::error_code ec);
  bool can_encrypt() const noexcept;

  net::StreamOptions options_;
  net::Stream inner_;
  std::shared_ptr<detail::Engine> eng_;
  std::shared_ptr<detail::ContextState> ctx_;
  std::unique_ptr<Timer> hs_timer_;
  std::string host_;
  bool* dead_ = nullptr;

  std::string plain_;  // decrypted, not yet consumed by the data callback
  net::DataCallback data_cb_;
  Function<void()> end_cb_;
  Function<void(std::error_code)> error_cb_;
  Function<void()> drain_cb_;
  Function<void(std::error_code)> hs_cb_;
  net::ConnectCallback connect_cb_;

  std::vector<detail::Item> items_;  // writes waiting for the handshake, a pool step or room
  std::size_t items_head_ = 0;
  std::size_t item_bytes_ = 0;
  std::size_t delivering_size_ = 0;
  std::error_code error_;
  std::string_view alpn_, protocol_, cipher_, server_name_;  // into the SSL object (stream.cpp)
  unsigned corks_ = 0;

  bool server_ = false;
  bool hs_started_ = false, hs_done_ = false, hs_counted_ = false;
  bool job_running_ = false;
  bool reading_ = false;
  bool delivering_ = false;
  bool ended_ = false, close_notify_seen_ = false, inner_eof_ = false;
  bool need_drain_ = false;
  bool shutdown_requested_ = false;
  bool reused_ = false;
  bool established_counted_ = false;  // in detail::established_here()
};

// co_await s.handshake(): returns once the handshake is complete; throws
// std::system_error with the failure. Cancel safety: safe (the handshake goes on; only
// the notification is dropped).
class [[nodiscard]] HandshakeAwaiter {
 public:
  explicit HandshakeAwaiter(Stream& s) noexcept : s_(s) {}
  HandshakeAwaiter(const HandshakeAwaiter&) = delete;
  HandshakeAwaiter& operator=(const HandshakeAwaiter&) = delete;
  ~HandshakeAwaiter();
  bool await_ready() const noexcept { return s_.handshake_done() || s_.error(); }
  void await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  Stream& s_;
  std::shared_ptr<std::coroutine_handle<>> h_;
  std::shared_ptr<std::error_code> ec_;
};

inline HandshakeAwaiter Stream::handshake() noexcept { return HandshakeAwaiter(*this); }

}  // namespace weft::tls
