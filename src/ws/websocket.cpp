// One WebSocket connection on the server (ws/websocket.hpp has the contract).
#include "ws/hub.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>

namespace weft::ws {

WebSocket::WebSocket(std::shared_ptr<detail::Route> route, std::shared_ptr<detail::Hub> hub)
    : route_(std::move(route)),
      hub_(std::move(hub)),
      parser_(ParserOptions{.role = Role::server,
                            .max_message_size = route_->behavior.options.max_message_size,
                            .allow_rsv1 = false}) {}

WebSocket::~WebSocket() = default;

const Options& WebSocket::options() const noexcept { return route_->behavior.options; }

const CompressionOptions& WebSocket::compression() const noexcept {
  return route_->behavior.options.compression;
}

// Before on_open: the parser accepts RSV1 on a message's first frame from now on.
void WebSocket::set_deflate(const DeflateParams& params) {
  deflate_bits_ = static_cast<std::uint8_t>(params.server_max_window_bits);
  inflate_bits_ = static_cast<std::uint8_t>(params.client_max_window_bits);
  inflate_keeps_context_ = !params.client_no_context_takeover;
  parser_ = Parser(ParserOptions{
      .role = Role::server, .max_message_size = options().max_message_size, .allow_rsv1 = true});
}

Loop& WebSocket::loop() const noexcept { return hub_->loop(); }

void WebSocket::set_request_info(const http::Request& req,
                                 const std::vector<std::string>& param_names,
                                 std::string protocol) {
  path_ = req.path();
  if (!req.query().empty()) extra().query = req.query();
  for (const std::string& name : param_names) extra().params.emplace_back(name, req.param(name));
  if (!protocol.empty()) extra().protocol = std::move(protocol);
}

WebSocket::Extra& WebSocket::extra() {
  if (!extra_) extra_ = std::make_unique<Extra>();
  return *extra_;
}

namespace {
const std::string kEmpty;
}  // namespace

const std::string& WebSocket::query() const noexcept { return extra_ ? extra_->query : kEmpty; }

const std::string& WebSocket::protocol() const noexcept {
  return extra_ ? extra_->protocol : kEmpty;
}

std::string_view WebSocket::close_reason() const noexcept {
  return extra_ ? std::string_view(extra_->close_reason) : std::string_view();
}

std::string_view WebSocket::param(std::string_view name) const noexcept {
  if (!extra_) return {};
  for (const auto& [n, v] : extra_->params) {
    if (n == name) return v;
  }
  return {};
}

// A user callback that throws closes the connection with 1011 and logs one line; nothing
// unwinds into the HTTP connection or the loop.
template <class F>
void WebSocket::call_user(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft.ws: %s: callback threw: %s\n", path_.c_str(), e.what());
    fail(close_code::internal_error, "internal error");
  } catch (...) {
    std::fprintf(stderr, "weft.ws: %s: callback threw a non-standard exception\n", path_.c_str());
    fail(close_code::internal_error, "internal error");
  }
}

// ---- sending ----------------------------------------------------------------------------

std::size_t WebSocket::buffered_amount() const noexcept { return io_ ? io_->queued_bytes() : 0; }

bool WebSocket::over_limit(std::size_t frame_size) const noexcept {
  const std::size_t buffered = io_->queued_bytes();
  return buffered > 0 && buffered + frame_size > options().max_backpressure;
}

SendResult WebSocket::refuse() {
  wants_drain_ = true;
  if (options().backpressure_policy == BackpressurePolicy::close) {
    fail(close_code::policy_violation, "backpressure limit");
    return {SendStatus::closed, buffered_amount()};
  }
  return {SendStatus::dropped, buffered_amount()};
}

SendResult WebSocket::send(std::string_view message, Opcode op) {
  if (state_ != State::open) return {SendStatus::closed, buffered_amount()};
  const std::size_t size = frame_header_size(message.size(), false) + message.size();
  if (over_limit(size)) {
    const SendResult r = refuse();
    if (r.status == SendStatus::dropped) hub_->dropped.fetch_add(1, std::memory_order_relaxed);
    return r;
  }
  const bool compress = deflate_bits_ && message.size() >= compression().min_size;
  if (!compress && message.size() < 126) {  // a small frame: its 2-byte header on the stack
    char small[2 + 125];
    small[0] = static_cast<char>(0x80 | static_cast<std::uint8_t>(op));
    small[1] = static_cast<char>(message.size());
    if (!message.empty()) std::memcpy(small + 2, message.data(), message.size());
    io_->write(std::string_view(small, 2 + message.size()));
    return {SendStatus::sent, buffered_amount()};
  }
  // Header and payload gathered in the loop's buffer (no allocation per message), written
  // with one call; the stream copies only what the socket does not take at once.
  std::string& frame = hub_->frame_buffer();
  if (compress) {
    hub_->compressed_frame(frame, op, message, deflate_bits_, compression().level);
  } else {
    encode_frame(frame, op, message);
  }
  io_->write(frame);
  hub_->release_frame_buffer();
  return {SendStatus::sent, buffered_amount()};
}

SendResult WebSocket::send_frame(const std::shared_ptr<const std::string>& frame) {
  if (state_ != State::open) return {SendStatus::closed, buffered_amount()};
  if (over_limit(frame->size())) return refuse();  // the hub counts the drops
  io_->write_shared(frame);
  return {SendStatus::sent, buffered_amount()};
}

// Control frames bypass the limit (they are small); a pong is skipped while the buffer is
// over it, since only the latest ping needs an answer (RFC 6455 §5.5.3).
void WebSocket::send_control(Opcode op, std::string_view payload) {
  if (!io_) return;
  std::string frame;
  encode_frame(frame, op, payload.substr(0, 125));
  io_->write(frame);
}

void WebSocket::ping(std::string_view payload) {
  if (state_ == State::open) send_control(Opcode::ping, payload);
}

// ---- closing ----------------------------------------------------------------------------

void WebSocket::close(std::uint16_t code, std::string_view reason) {
  if (state_ != State::open) return;
  if (!is_valid_close_code(code)) code = close_code::normal;
  start_closing(code, reason);
}

void WebSocket::start_closing(std::uint16_t code, std::string_view reason) {
  state_ = State::closing;
  close_deadline_ = loop().now() + options().close_timeout;
  send_control(Opcode::close, close_payload(code, reason));
}

// A protocol violation (or a failing callback, or the backpressure policy): our close
// frame goes out with the code; Behavior::close is told that code unless the peer answers
// with its own.
void WebSocket::fail(std::uint16_t code, std::string_view reason) {
  if (state_ != State::open) return;
  close_code_ = code;
  if (!reason.empty() || extra_) extra().close_reason = reason;
  start_closing(code, reason);
}

void WebSocket::terminate() {
  if (io_) io_->close();
}

void WebSocket::check_timers(TimePoint now) {
  if (state_ == State::closing && now >= close_deadline_) {
    terminate();  // the peer never answered our close
    return;
  }
  const Duration idle = options().idle_timeout;
  if (state_ != State::open || idle <= Duration::zero()) return;
  if (now - last_input_ >= idle) {
    fail(close_code::going_away, "idle timeout");
  } else if (options().send_pings && !ping_outstanding_ && now - last_input_ >= idle / 2) {
    ping_outstanding_ = true;
    send_control(Opcode::ping, {});
  }
}

// ---- events from the connection --------------------------------------------------------

void WebSocket::on_open(http::UpgradedIo& io) {
  io_ = &io;
  io.set_high_water_mark(0);  // every congestion ends in on_drain (see `drain`)
  state_ = State::open;
  last_input_ = loop().now();
  hub_->add(this);
  if (route_->behavior.open) call_user([&] { route_->behavior.open(*this); });
}

std::size_t WebSocket::on_data(std::span<char> bytes) {
  last_input_ = loop().now();
  ping_outstanding_ = false;
  if (state_ == State::closed || parser_.failed() || parser_.closed()) return bytes.size();
  parser_.parse(bytes, *this);
  if (parser_.failed()) {
    // Fail the connection (RFC 6455 §7.1.7): our close frame, then our FIN; the peer's
    // FIN (or the close timeout) ends it.
    fail(parser_.error_code(), parser_.error_message());
    if (io_) io_->shutdown();
  }
  return bytes.size();  // after a close frame or an error, the rest is dropped
}

void WebSocket::on_message(Opcode op, std::string_view payload, bool compressed) {
  if (state_ != State::open) return;
  if (compressed && !inflate(payload, op)) return;
  if (compressed) payload = hub_->inflate_buffer();
  if (route_->behavior.message) call_user([&] { route_->behavior.message(*this, payload, op); });
  if (compressed) hub_->release_inflate_buffer();
}

// A compressed message into the hub's inflate_buffer(); false (and the connection failing) when it
// is corrupt (1007), inflates past max_message_size (1009) or is text that is not UTF-8 (1007).
bool WebSocket::inflate(std::string_view compressed, Opcode op) {
  if (!inflater_) inflater_ = std::make_unique<Inflater>(inflate_bits_);
  std::string& inflated = hub_->inflate_buffer();
  inflated.clear();
  const Inflater::Result r =
      inflater_->decompress(compressed, inflated, options().max_message_size);
  if (!inflate_keeps_context_) inflater_.reset();
  if (r == Inflater::Result::too_big) {
    fail(close_code::message_too_big, "message too big");
  } else if (r == Inflater::Result::corrupt) {
    fail(close_code::invalid_payload, "invalid compressed data");
  } else if (op == Opcode::text && !is_valid_utf8(inflated)) {
    fail(close_code::invalid_payload, "text message is not valid UTF-8");
  } else {
    return true;
  }
  if (io_) io_->shutdown();
  return false;
}

void WebSocket::on_ping(std::string_view payload) {
  if (state_ != State::open) return;
  if (io_->queued_bytes() <= options().max_backpressure) send_control(Opcode::pong, payload);
  if (route_->behavior.ping) call_user([&] { route_->behavior.ping(*this, payload); });
}

void WebSocket::on_pong(std::string_view payload) {
  if (state_ != State::open || !route_->behavior.pong) return;
  call_user([&] { route_->behavior.pong(*this, payload); });
}

// The peer's close: answered with its code and reason when we had not sent one; either way the
// handshake is complete and the server ends the TCP connection.
void WebSocket::on_close(std::uint16_t code, std::string_view reason) {
  close_received_ = true;
  close_code_ = code;
  if (!reason.empty() || extra_) extra().close_reason = reason;
  if (state_ == State::open) {
    state_ = State::closing;
    close_deadline_ = loop().now() + options().close_timeout;
    send_control(Opcode::close, close_payload(code, reason));  // echoed, as ws does
  }
  io_->shutdown();  // the server ends the TCP connection first (RFC 6455 §7.1.1)
}

void WebSocket::on_drain() {
  if (!wants_drain_ || state_ != State::open) return;
  wants_drain_ = false;
  if (route_->behavior.drain) call_user([&] { route_->behavior.drain(*this); });
}

// The peer's FIN: after a closing handshake the normal end; without one, abnormal (1006,
// close_code_'s default).
void WebSocket::on_end() {
  if (io_) io_->close();
}

void WebSocket::on_server_close() {
  if (state_ == State::open) {
    start_closing(close_code::going_away, "server closing");
  } else if (state_ == State::connecting && io_) {
    io_->close();
  }
}

// Parked only between messages: a partial frame or fragmented message keeps the
// connection object (it resumes in place as the rest arrives).
bool WebSocket::parkable(TimePoint now, Duration idle_after) const noexcept {
  return state_ == State::open && parser_.idle() && !wants_drain_ &&
         now - last_input_ >= idle_after;
}

void WebSocket::on_moved(http::UpgradedIo& io) {
  io_ = &io;
  io.set_high_water_mark(0);
  parser_.shrink();  // idle (parkable): its buffers hold nothing
}

void WebSocket::on_closed(std::error_code) {
  if (state_ == State::closed) return;
  const bool was_opened = state_ != State::connecting;
  state_ = State::closed;
  io_ = nullptr;
  if (!was_opened) return;
  hub_->remove(this);
  if (route_->behavior.close) {
    try {
      route_->behavior.close(*this, close_code_, close_reason());
    } catch (...) {
      std::fprintf(stderr, "weft.ws: %s: close callback threw\n", path_.c_str());
    }
  }
}

// ---- pub/sub ----------------------------------------------------------------------------

bool WebSocket::subscribe(std::string_view topic) {
  if (state_ == State::closed || is_subscribed(topic)) return false;
  if (!has_topic_) {
    topic_ = topic;
    has_topic_ = true;
  } else {
    if (!more_topics_) more_topics_ = std::make_unique<std::vector<std::string>>();
    more_topics_->emplace_back(topic);
  }
  return hub_->subscribe(this, topic);
}

bool WebSocket::unsubscribe(std::string_view topic) {
  if (has_topic_ && topic_ == topic) {
    if (more_topics_ && !more_topics_->empty()) {  // the last other one moves inline
      topic_ = std::move(more_topics_->back());
      more_topics_->pop_back();
    } else {
      std::string().swap(topic_);
      has_topic_ = false;
    }
  } else {
    if (!more_topics_) return false;
    auto it = std::find(more_topics_->begin(), more_topics_->end(), topic);
    if (it == more_topics_->end()) return false;
    more_topics_->erase(it);
  }
  if (more_topics_ && more_topics_->empty()) more_topics_.reset();
  return hub_->unsubscribe(this, topic);
}

bool WebSocket::is_subscribed(std::string_view topic) const noexcept {
  if (has_topic_ && topic_ == topic) return true;
  return more_topics_ &&
         std::find(more_topics_->begin(), more_topics_->end(), topic) != more_topics_->end();
}

std::vector<std::string> WebSocket::topics() const {
  std::vector<std::string> out;
  if (has_topic_) out.push_back(topic_);
  if (more_topics_) out.insert(out.end(), more_topics_->begin(), more_topics_->end());
  return out;
}

}  // namespace weft::ws
