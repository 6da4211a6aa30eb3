// The WebSocket client: co_await ws::connect(url, opts) over plain TCP (ws:// URLs, port 80
// by default) or TLS (wss:// URLs, port 443 by default, through weft's tls layer).
//
//   auto c = co_await weft::ws::connect("ws://127.0.0.1:8080/ws");
//   c->send("hello");
//   while (auto m = co_await c->receive()) use(m->data, m->op);   // nullopt once closed
//   c->close(1000, "bye");
//
// connect() runs on the current loop (Loop::current(); std::logic_error outside one): it
// connects (ConnectOptions::timeout covers the connect and the handshake), sends the
// handshake with a random key and checks the 101: Upgrade, Connection, the
// Sec-WebSocket-Accept for our key, the subprotocol (one we offered, if any). Failures
// throw std::system_error (connect errors, timed_out) or ws::HandshakeError (what the
// server answered instead).
//
// TLS (wss://): tls::connect with a client Context: the system CA store, or
// ConnectOptions::ca_file instead; the server's certificate is verified and checked against
// the URL's host (SNI + name check; an IP literal is checked as an address) unless
// verify_tls is false (tests only). ConnectOptions::tls_context, when set, is used as is
// (ca_file and verify_tls are then ignored). A failed verification throws std::system_error
// in the weft.tls.verify category with OpenSSL's reason ("certificate has expired",
// "hostname mismatch", "self-signed certificate"...). With TLS, a coroutine waiting in
// connect() or receive() is resumed from the loop's pending phase, never inside the TLS
// stream's callbacks (the stream still reads its members after calling them).
//
// Compression: ConnectOptions::compression offers permessage-deflate (ws/deflate.hpp);
// an answer we did not offer fails the handshake.
//
// Messages: either the callbacks (on_message, as on the server) or receive(); messages
// that arrive while neither takes them are queued — up to max_queued_bytes, past which
// reading pauses until receive() takes some. Frames from the server are checked as
// ws/parser.hpp says (client role: they must not be masked); a violation closes with
// its code. Frames we send are masked with keys from OpenSSL's RAND_bytes.
//
// Closing: close(code, reason) sends a close frame; the connection ends when the server
// answers and closes TCP, or after close_timeout. A server's close is answered with the
// same code. on_close and receive()'s nullopt report the server's code (1005: none), our
// error code after a protocol error, or 1006.
//
// Lifetime: destroying the Client closes the socket at once (no closing handshake); no
// callback runs after that. Loop thread only.
#pragma once

#include <weft/clock.hpp>
#include <weft/function.hpp>
#include <weft/cancel.hpp>
#include <weft/net/stream.hpp>
#include <weft/net/transport.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>
#include <weft/tls/context.hpp>
#include <weft/tls/stream.hpp>
#include <weft/ws/deflate.hpp>
#include <weft/ws/parser.hpp>
#include <weft/ws/websocket.hpp>

#include <array>
#include <coroutine>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::ws {

struct ConnectOptions {
  std::vector<std::string> protocols = {};  // offered in Sec-WebSocket-Protocol
  std::vector<std::pair<std::string, std::string>> headers = {};  // added to the request
  Duration timeout = std::chrono::seconds(10);                    // connect + handshake
  std::size_t max_message_size = 1024 * 1024;                     // incoming: past it 1009
  std::size_t max_queued_bytes = 4 * 1024 * 1024;  // received, not yet taken by receive()
  Duration close_timeout = std::chrono::seconds(5);
  // permessage-deflate: when enabled, offered as "permessage-deflate; client_max_window_bits";
  // our messages from min_size up are compressed without context (each on its own).
  CompressionOptions compression = {};
  // wss:// only (see the file comment).
  std::string ca_file = {};       // PEM bundle trusted instead of the system CA store
  bool verify_tls = true;         // false: any certificate is accepted (tests only)
  tls::Context tls_context = {};  // when set: used as is (ca_file, verify_tls ignored)
};

// The server answered the handshake with something other than a valid 101.
class HandshakeError : public std::runtime_error {
 public:
  HandshakeError(int status, const std::string& what) : std::runtime_error(what), status_(status) {}
  int status() const noexcept { return status_; }  // the HTTP status (0: none parsed)

 private:
  int status_;
};

struct Message {
  Opcode op = Opcode::text;
  std::string data;
};

class Client final : private ParserEvents {
 public:
  Client(Loop& loop, ConnectOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  SendResult send(std::string_view message, Opcode op = Opcode::text);
  void ping(std::string_view payload = {});
  void close(std::uint16_t code = close_code::normal, std::string_view reason = {});
  void terminate();  // closes the socket now (1006)
  std::size_t buffered_amount() const noexcept { return stream_ ? stream_->queued_bytes() : 0; }
  bool is_secure() const noexcept { return secure_; }  // over TLS (wss://)
  bool is_open() const noexcept { return state_ == State::open; }
  const std::string& protocol() const noexcept { return protocol_; }
  std::uint16_t close_code() const noexcept { return close_code_; }
  const std::string& close_reason() const noexcept { return close_reason_; }

  void on_message(Function<void(std::string_view, Opcode)> cb) { message_cb_ = std::move(cb); }
  void on_close(Function<void(std::uint16_t, std::string_view)> cb) { close_cb_ = std::move(cb); }
  void on_drain(Function<void()> cb) { drain_cb_ = std::move(cb); }

  class ReceiveAwaiter {
   public:
    explicit ReceiveAwaiter(Client& c) noexcept : c_(c) {}
    ~ReceiveAwaiter();
    bool await_ready() const noexcept { return !c_.queue_.empty() || c_.state_ == State::closed; }
    void await_suspend(std::coroutine_handle<> h) noexcept { c_.receiver_ = h; }
    std::optional<Message> await_resume();

   private:
    Client& c_;
  };
  // The next message, or nullopt once the connection is closed (see close_code()).
  // Cancel safety: safe (a message is taken only in the step that resumes with it).
  // One receive() at a time.
  ReceiveAwaiter receive() noexcept { return ReceiveAwaiter(*this); }

  // -- used by connect() ---------------------------------------------------------
  // Connects (over TLS when `secure`) and makes the handshake for `target`.
  Task<void> open(std::string host, std::uint16_t port, std::string target, bool secure = false);

 private:
  enum class State : std::uint8_t { connecting, handshake, open, closing, closed };
  friend class ReceiveAwaiter;

  std::size_t on_data(std::span<char> bytes);
  std::size_t on_handshake_data(std::span<char> bytes);
  void check_response(std::string_view head);
  void on_message(Opcode op, std::string_view payload, bool compressed) override;
  void on_ping(std::string_view payload) override;
  void on_pong(std::string_view payload) override;
  void on_close(std::uint16_t code, std::string_view reason) override;
  void write_frame(Opcode op, std::string_view payload, bool compress = false);
  void fail(std::uint16_t code, std::string_view reason);
  void finish(std::uint16_t code);
  void wake();
  Task<void> connect_transport(const std::string& host, std::uint16_t port);
  void start_handshake(std::string request, Duration deadline);

  Loop& loop_;
  ConnectOptions options_;
  // The connection (set by open()): one of the two owners, used through `stream_`
  // (Transport's destructor is not public: each kind is owned as itself).
  std::unique_ptr<net::Stream> plain_;
  std::unique_ptr<tls::Stream> tls_;
  net::Transport* stream_ = nullptr;
  std::optional<weft::detail::DeferredResume> resume_;  // TLS: wakes go through the pending phase
  Timer timer_;  // handshake deadline, then the close timeout
  Parser parser_;
  std::string key_;
  std::string protocol_;
  std::string head_;  // the handshake response so far
  std::deque<Message> queue_;
  std::size_t queued_bytes_ = 0;
  std::coroutine_handle<> receiver_;  // a receive() or open() waiting
  std::exception_ptr handshake_error_;
  Function<void(std::string_view, Opcode)> message_cb_;
  Function<void(std::uint16_t, std::string_view)> close_cb_;
  Function<void()> drain_cb_;
  std::unique_ptr<Deflater> deflater_;  // permessage-deflate was agreed
  std::unique_ptr<Inflater> inflater_;
  std::string inflated_;
  std::array<unsigned char, 256> entropy_{};
  std::size_t entropy_used_ = 256;
  std::string close_reason_;
  std::uint16_t close_code_ = close_code::abnormal;
  State state_ = State::connecting;
  bool paused_ = false;
  bool secure_ = false;
};

// Connects to a ws:// or wss:// URL on the current loop (see the file comment). Pass the
// options as a named variable, not a braced temporary inside the co_await expression: GCC 12
// mishandles temporaries that live across a co_await (the strings in them end up pointing
// into the temporary's old storage).
Task<std::unique_ptr<Client>> connect(std::string url, ConnectOptions options);
// The same with default options (not a coroutine: the options are made inside).
Task<std::unique_ptr<Client>> connect(std::string url);

}  // namespace weft::ws
