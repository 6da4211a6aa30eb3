// WebSocket connections on the HTTP server (RFC 6455), uWebSockets-style:
//
//   weft::ws::App app(loop);                       // an http::Server with ws() and publish()
//   app.ws("/chat/:room", {
//       .open = [](ws::WebSocket& s) { s.subscribe(s.param("room")); },
//       .message = [&](ws::WebSocket& s, std::string_view msg, ws::Opcode op) { s.send(msg, op); },
//       .close = [](ws::WebSocket& s, std::uint16_t code, std::string_view reason) {},
//       .drain = [](ws::WebSocket& s) {},
//   });
//   app.publish("lobby", "hello");                 // one frame built, sent to every subscriber
//
// The handshake (ws/app.hpp): GET with Upgrade: websocket, Connection: upgrade,
// Sec-WebSocket-Version: 13 (else 426 with the version we speak) and a Sec-WebSocket-Key
// of 16 bytes in base64 (else 400). Behavior::upgrade may refuse (throw http::HttpError)
// and returns the connection's user value; a requested subprotocol is echoed (the first
// the client lists that Options::protocols allows; any when that list is empty).
//
// Incoming frames are checked as ws/parser.hpp says; a violation sends a close frame with
// its code (1002, 1007, 1009) and the reason, then the connection is closed.
//
// Closing: close(code, reason) sends a close frame and waits up to close_timeout for the
// peer's; a peer's close is answered with the same code and the connection ends (the
// server closes the TCP connection first, RFC 6455 §7.1.1). Behavior::close runs once,
// when the connection is gone, with the peer's code (1005: none given), the code weft
// sent after a protocol error, or 1006 if no close frame was exchanged (timeout, reset).
// The WebSocket& is valid until close returns; do not keep it past that.
//
// Backpressure: send() queues what the socket does not take at once and reports how much
// is buffered. A send that would take the buffer past max_backpressure (when something is
// buffered already) follows the policy: the message is dropped (SendStatus::dropped), or
// the connection is closed with 1008. Either way `drain` runs once the buffer has emptied.
// Published messages follow the same rule, so a subscriber that never reads holds at most
// max_backpressure plus one message.
//
// Compression (Options::compression, off by default): permessage-deflate as ws/deflate.hpp
// says; messages from min_size up are sent compressed, published ones compressed once per
// loop and window size.
//
// Idle: with idle_timeout, a connection that received nothing for half of it gets a ping
// (send_pings), and one silent for all of it is closed with 1001.
//
// Memory: a plain-TCP connection that received nothing for the server's park_idle_after
// (http::ServerOptions; 1 s by default) between messages is parked (http/upgrade.hpp): the
// HTTP connection object is freed and the WebSocket keeps only its socket. Sends and
// publishes to it go straight to the socket; what the kernel does not take at once, and
// any input, bring the connection object back. Nothing changes for the callbacks.
#pragma once

#include <weft/clock.hpp>
#include <weft/function.hpp>
#include <weft/http/request.hpp>
#include <weft/http/upgrade.hpp>
#include <weft/ws/deflate.hpp>
#include <weft/ws/frame.hpp>
#include <weft/ws/parser.hpp>

#include <any>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::ws {

class WebSocket;

enum class BackpressurePolicy : std::uint8_t { drop, close };

struct Options {
  std::size_t max_message_size = 1024 * 1024;  // incoming, all fragments: past it 1009
  std::size_t max_backpressure = 1024 * 1024;  // outgoing bytes buffered per connection
  BackpressurePolicy backpressure_policy = BackpressurePolicy::drop;
  Duration idle_timeout = std::chrono::seconds(120);  // zero: none
  bool send_pings = true;                             // ping at half the idle timeout
  Duration close_timeout = std::chrono::seconds(5);   // waiting for the peer's close frame
  std::vector<std::string> protocols = {};            // subprotocols allowed; empty: any
  CompressionOptions compression = {};                // permessage-deflate (ws/deflate.hpp)
};

struct Behavior {
  // Runs before the handshake is answered: may refuse (throw http::HttpError) and returns
  // the connection's user value (WebSocket::user()). The request's headers are here.
  Function<std::any(http::Request&)> upgrade = {};
  Function<void(WebSocket&)> open = {};
  Function<void(WebSocket&, std::string_view message, Opcode op)> message = {};
  Function<void(WebSocket&, std::uint16_t code, std::string_view reason)> close = {};
  Function<void(WebSocket&)> drain = {};
  Function<void(WebSocket&, std::string_view payload)> ping = {};  // answered already
  Function<void(WebSocket&, std::string_view payload)> pong = {};
  Options options = {};
};

enum class SendStatus : std::uint8_t {
  sent,     // written or queued (see buffered_amount)
  dropped,  // over max_backpressure with the drop policy: not sent
  closed,   // the connection is closing or closed (or the close policy just closed it)
};

struct SendResult {
  SendStatus status = SendStatus::sent;
  std::size_t buffered_amount = 0;  // bytes queued for this connection after the call
};

namespace detail {
struct Route;
class Hub;
}  // namespace detail

class WebSocket final : public http::Upgraded, private ParserEvents {
 public:
  WebSocket(std::shared_ptr<detail::Route> route, std::shared_ptr<detail::Hub> hub);
  ~WebSocket() override;
  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  // A text message must be UTF-8 (not checked here: the peer will close with 1007).
  SendResult send(std::string_view message, Opcode op = Opcode::text);
  void ping(std::string_view payload = {});  // at most 125 bytes (longer is cut)
  // Starts the closing handshake (code: a valid one, else 1000 is sent; reason cut to fit).
  void close(std::uint16_t code = close_code::normal, std::string_view reason = {});
  // Closes the TCP connection now, without a closing handshake (close gets 1006).
  void terminate();

  std::size_t buffered_amount() const noexcept;
  bool is_open() const noexcept { return state_ == State::open; }

  // Pub/sub on this loop's hub of the App (ws/app.hpp). False if already (un)subscribed.
  bool subscribe(std::string_view topic);
  bool unsubscribe(std::string_view topic);
  bool is_subscribed(std::string_view topic) const noexcept;
  // A copy: the first topic is kept inline (no allocation per subscriber), others apart.
  std::vector<std::string> topics() const;

  // The per-connection user value (Behavior::upgrade's result; empty otherwise).
  std::any& user() noexcept { return user_; }
  // The request's path, query, route parameters (decoded) and the chosen subprotocol.
  const std::string& path() const noexcept { return path_; }
  const std::string& query() const noexcept;
  std::string_view param(std::string_view name) const noexcept;
  const std::string& protocol() const noexcept;
  Loop& loop() const noexcept;

  // -- used by App and the hub ---------------------------------------------------
  void set_request_info(const http::Request& req, const std::vector<std::string>& param_names,
                        std::string protocol);
  void set_user(std::any value) { user_ = std::move(value); }
  void set_deflate(const DeflateParams& params);
  // The window the peer allows our compressed messages (0: no permessage-deflate).
  int deflate_window_bits() const noexcept { return deflate_bits_; }
  const CompressionOptions& compression() const noexcept;
  // Queues a prepared frame (a publish): the same backpressure rule as send().
  SendResult send_frame(const std::shared_ptr<const std::string>& frame);
  // The hub's sweep: idle pings and timeouts, close timeouts.
  void check_timers(TimePoint now);
  WebSocket* hub_prev = nullptr;
  WebSocket* hub_next = nullptr;

 private:
  enum class State : std::uint8_t { connecting, open, closing, closed };

  // http::Upgraded
  void on_open(http::UpgradedIo& io) override;
  std::size_t on_data(std::span<char> bytes) override;
  void on_drain() override;
  void on_end() override;
  void on_closed(std::error_code error) override;
  void on_server_close() override;
  bool parkable(TimePoint now, Duration idle_after) const noexcept override;
  void on_moved(http::UpgradedIo& io) override;
  // ParserEvents
  void on_message(Opcode op, std::string_view payload, bool compressed) override;
  void on_ping(std::string_view payload) override;
  void on_pong(std::string_view payload) override;
  void on_close(std::uint16_t code, std::string_view reason) override;

  bool inflate(std::string_view compressed, Opcode op);
  bool over_limit(std::size_t frame_size) const noexcept;
  SendResult refuse();
  void send_control(Opcode op, std::string_view payload);
  void start_closing(std::uint16_t code, std::string_view reason);
  void fail(std::uint16_t code, std::string_view reason);
  template <class F>
  void call_user(F&& f);
  const Options& options() const noexcept;
  // What few connections have (a query, a subprotocol, route parameters) or need only at
  // the end (a close reason): allocated when first set, so a plain connection stays small.
  struct Extra {
    std::string query;
    std::string protocol;
    std::vector<std::pair<std::string, std::string>> params;
    std::string close_reason;
  };
  Extra& extra();
  std::string_view close_reason() const noexcept;

  std::shared_ptr<detail::Route> route_;
  std::shared_ptr<detail::Hub> hub_;
  http::UpgradedIo* io_ = nullptr;
  Parser parser_;
  std::any user_;
  std::string path_;
  std::string topic_;  // the first subscription (when has_topic_)
  std::unique_ptr<std::vector<std::string>> more_topics_;  // the others
  std::unique_ptr<Extra> extra_;
  std::unique_ptr<Inflater> inflater_;  // while a compressed message is read (or kept: context)
  TimePoint last_input_{};
  TimePoint close_deadline_{};
  std::uint16_t close_code_ = close_code::abnormal;  // what Behavior::close will be told
  State state_ = State::connecting;
  std::uint8_t deflate_bits_ = 0;      // server_max_window_bits; 0: not negotiated
  std::uint8_t inflate_bits_ = 15;     // client_max_window_bits
  bool inflate_keeps_context_ = true;  // not client_no_context_takeover
  bool close_received_ = false;
  bool ping_outstanding_ = false;
  bool wants_drain_ = false;
  bool has_topic_ = false;
};

}  // namespace weft::ws
