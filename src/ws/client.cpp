// The WebSocket client (ws/client.hpp has the contract).
#include <weft/ws/client.hpp>

#include "ws/hub.hpp"

#include <weft/error.hpp>
#include <weft/loop.hpp>
#include <weft/net/connect.hpp>
#include <weft/tls/connect.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <system_error>

namespace weft::ws {

namespace {

struct Url {
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";
  bool secure = false;  // wss://
};

Url parse_url(std::string_view url) {
  Url out;
  if (url.starts_with("wss://")) {
    out.secure = true;
    out.port = 443;
    url.remove_prefix(6);
  } else if (url.starts_with("ws://")) {
    url.remove_prefix(5);
  } else {
    throw std::invalid_argument("ws::connect: not a ws:// or wss:// URL: " + std::string(url));
  }
  const std::size_t slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.target = std::string(url.substr(slash));
    if (out.target.front() == '?') out.target.insert(0, "/");
  }
  std::size_t colon = authority.rfind(':');
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("ws::connect: bad IPv6 host");
    out.host = std::string(authority.substr(1, close - 1));
    colon = authority.find(':', close);
  } else {
    out.host = std::string(authority.substr(0, colon));
  }
  if (colon != std::string_view::npos) {
    const std::string port(authority.substr(colon + 1));
    char* end = nullptr;
    const unsigned long p = std::strtoul(port.c_str(), &end, 10);
    if (port.empty() || *end || p == 0 || p > 65535)
      throw std::invalid_argument("ws::connect: bad port");
    out.port = static_cast<std::uint16_t>(p);
  }
  if (out.host.empty()) throw std::invalid_argument("ws::connect: no host in the URL");
  return out;
}

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_token(std::string_view list, std::string_view token) {
  while (true) {
    const std::size_t comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

constexpr std::size_t kMaxHead = 16 * 1024;

}  // namespace

Client::Client(Loop& loop, ConnectOptions options)
    : loop_(loop),
      options_(std::move(options)),
      timer_(loop),
      parser_(ParserOptions{.role = Role::client,
                            .max_message_size = options_.max_message_size,
                            .allow_rsv1 = false}) {}

Client::~Client() = default;

// ---- opening ------------------------------------------------------------------------------

namespace {

// Suspends until the client wakes it (the handshake finished or failed).
struct WaitOpen {
  std::coroutine_handle<>& slot;
  bool ready;
  bool await_ready() const noexcept { return ready; }
  void await_suspend(std::coroutine_handle<> h) noexcept { slot = h; }
  void await_resume() const noexcept {}
};

}  // namespace

// The transport, connected (and past the TLS handshake for wss://) within the timeout.
// Failures throw std::system_error (net::connect's and tls::connect's codes).
Task<void> Client::connect_transport(const std::string& host, std::uint16_t port) {
  if (!secure_) {
    net::ConnectOptions o;
    o.timeout = options_.timeout;
    net::Stream plain = co_await net::connect(loop_, host, port, o);
    plain_ = std::make_unique<net::Stream>(loop_, plain.detach_socket());
    stream_ = plain_.get();
    co_return;
  }
  tls::Context ctx = options_.tls_context;
  if (!ctx) {
    tls::ClientConfig c;
    c.ca_file = options_.ca_file;
    c.verify = options_.verify_tls;
    ctx = tls::Context::client(c);
  }
  tls::ConnectOptions o;
  o.timeout = options_.timeout;
  // The Task is made in a statement of its own: its arguments' temporaries end before the
  // suspension (GCC 12 mishandles temporaries that live across a co_await).
  Task<std::unique_ptr<tls::Stream>> connecting =
      tls::connect(loop_, host, port, std::move(ctx), std::move(o));
  tls_ = co_await std::move(connecting);
  stream_ = tls_.get();
}

Task<void> Client::open(std::string host, std::uint16_t port, std::string target, bool secure) {
  secure_ = secure;
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1)
    throw std::runtime_error("ws::connect: RAND_bytes failed");
  key_ = base64(nonce, sizeof nonce);
  const std::uint16_t default_port = secure ? 443 : 80;
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " +
                        (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                        (port == default_port ? "" : ":" + std::to_string(port)) +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                        key_ + "\r\n";
  if (!options_.protocols.empty()) {
    request += "Sec-WebSocket-Protocol: ";
    for (std::size_t i = 0; i < options_.protocols.size(); ++i) {
      request += (i ? ", " : "") + options_.protocols[i];
    }
    request += "\r\n";
  }
  if (options_.compression.enabled) {
    request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
  }
  for (const auto& [name, value] : options_.headers) {
    request.append(name).append(": ").append(value).append("\r\n");
  }
  request += "\r\n";

  const TimePoint started = loop_.now();
  co_await connect_transport(host, port);
  // What is left of the timeout bounds the WebSocket handshake (at least a millisecond).
  const Duration left =
      std::max<Duration>(options_.timeout - (loop_.now() - started), std::chrono::milliseconds(1));
  start_handshake(std::move(request), left);
  co_await WaitOpen{receiver_, false};
  if (handshake_error_) {
    timer_.stop();
    stream_->close();
    std::rethrow_exception(std::exchange(handshake_error_, {}));
  }
}

// Sends the handshake request over the connected transport and watches for its answer
// (or the end, an error, the deadline).
void Client::start_handshake(std::string request, Duration deadline) {
  timer_.start(
      [this] {
        if (state_ == State::closing) return finish(close_code_);
        handshake_error_ =
            std::make_exception_ptr(std::system_error(make_error_code(std::errc::timed_out)));
        stream_->close();
        wake();
      },
      deadline);
  stream_->on_end([this] {
    if (state_ == State::handshake) {
      handshake_error_ =
          std::make_exception_ptr(HandshakeError(0, "connection closed during the handshake"));
      return wake();
    }
    finish(close_code_);
  });
  stream_->on_error([this](std::error_code ec) {
    if (state_ <= State::handshake) {
      handshake_error_ = std::make_exception_ptr(std::system_error(ec));
      return wake();
    }
    finish(close_code_);
  });
  stream_->on_drain([this] {
    if (drain_cb_ && state_ == State::open) drain_cb_();
  });
  state_ = State::handshake;
  stream_->write(std::move(request));
  (void)stream_->read_start([this](std::span<char> bytes) { return on_data(bytes); });
}

std::size_t Client::on_handshake_data(std::span<char> bytes) {
  const std::size_t before = head_.size();
  head_.append(bytes.data(), bytes.size());
  const std::size_t end = head_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (head_.size() > kMaxHead) {
      handshake_error_ = std::make_exception_ptr(HandshakeError(0, "handshake response too large"));
      wake();
    }
    return bytes.size();
  }
  try {
    check_response(std::string_view(head_).substr(0, end));
  } catch (...) {
    handshake_error_ = std::current_exception();
    wake();
    return bytes.size();
  }
  timer_.stop();
  state_ = State::open;
  const std::size_t used = end + 4 - before;
  std::string().swap(head_);
  // Frames that came with the 101 (queued: nobody can have set a callback yet).
  if (used < bytes.size()) parser_.parse(bytes.subspan(used), *this);
  if (parser_.failed()) fail(parser_.error_code(), parser_.error_message());
  wake();
  return bytes.size();
}

void Client::check_response(std::string_view head) {
  const std::size_t eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  int status = 0;
  if (status_line.size() >= 12 && status_line.starts_with("HTTP/1.1 ")) {
    status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  }
  if (status != 101) {
    throw HandshakeError(status, "handshake refused: " + std::string(status_line));
  }
  std::string_view upgrade, connection, accept, protocol, extensions;
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    const std::size_t e = rest.find("\r\n");
    const std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "upgrade")) upgrade = value;
    if (iequals(name, "connection")) connection = value;
    if (iequals(name, "sec-websocket-accept")) accept = value;
    if (iequals(name, "sec-websocket-protocol")) protocol = value;
    if (iequals(name, "sec-websocket-extensions")) extensions = value;
  }
  if (!iequals(upgrade, "websocket") || !has_token(connection, "upgrade")) {
    throw HandshakeError(101, "101 without Upgrade: websocket / Connection: upgrade");
  }
  if (accept != detail::accept_key(key_)) throw HandshakeError(101, "wrong Sec-WebSocket-Accept");
  if (!extensions.empty()) {
    auto d = options_.compression.enabled ? parse_deflate_answer(extensions) : std::nullopt;
    if (!d) throw HandshakeError(101, "server chose an extension that was not offered");
    deflater_ = std::make_unique<Deflater>(d->client_max_window_bits, options_.compression.level);
    inflater_ = std::make_unique<Inflater>(d->server_max_window_bits);
    parser_ = Parser(ParserOptions{
        .role = Role::client, .max_message_size = options_.max_message_size, .allow_rsv1 = true});
  }
  if (!protocol.empty()) {
    bool offered = false;
    for (const std::string& p : options_.protocols) offered |= p == protocol;
    if (!offered) throw HandshakeError(101, "server chose a subprotocol that was not offered");
    protocol_ = std::string(protocol);
  }
}

// Over TLS the resume is deferred to the pending phase (the file comment of client.hpp);
// destroying the Client (or the waiting receive()) cancels it.
void Client::wake() {
  auto h = std::exchange(receiver_, {});
  if (!h) return;
  if (!secure_) return h.resume();
  resume_.emplace();
  resume_->schedule(loop_, h);
}

// ---- reading ------------------------------------------------------------------------------

// A waiting receive() is resumed last, after every byte was parsed: it may destroy us.
std::size_t Client::on_data(std::span<char> bytes) {
  const std::size_t n = bytes.size();
  if (state_ == State::handshake) return on_handshake_data(bytes);
  if (state_ == State::closed || parser_.failed() || parser_.closed()) return n;
  parser_.parse(bytes, *this);
  if (parser_.failed()) fail(parser_.error_code(), parser_.error_message());
  if (receiver_ && !queue_.empty()) wake();
  return n;
}

void Client::on_message(Opcode op, std::string_view payload, bool compressed) {
  if (state_ != State::open) return;
  if (compressed) {
    const Inflater::Result r = inflater_->decompress(payload, inflated_, options_.max_message_size);
    if (r != Inflater::Result::ok || (op == Opcode::text && !is_valid_utf8(inflated_))) {
      return fail(r == Inflater::Result::too_big ? close_code::message_too_big
                                                 : close_code::invalid_payload,
                  "invalid compressed message");
    }
    payload = inflated_;
  }
  if (message_cb_) {
    message_cb_(payload, op);  // (may destroy nothing: we are inside our own parse)
    return;
  }
  queue_.push_back(Message{op, std::string(payload)});
  queued_bytes_ += payload.size();
  if (inflated_.capacity() > 64 * 1024) std::string().swap(inflated_);
  if (queued_bytes_ > options_.max_queued_bytes && !paused_) {
    paused_ = true;
    stream_->read_stop();
  }
}

void Client::on_ping(std::string_view payload) {
  if (state_ == State::open) write_frame(Opcode::pong, payload);
}

void Client::on_pong(std::string_view) {}

// The server's close: answered with its code (unless we sent ours); the server then ends
// the TCP connection (on_end → finish), or the close timeout does.
void Client::on_close(std::uint16_t code, std::string_view reason) {
  close_code_ = code;
  close_reason_ = std::string(reason);
  if (state_ != State::open) return;
  state_ = State::closing;
  write_frame(Opcode::close, close_payload(code, reason));
  timer_.start([this] { finish(close_code_); }, options_.close_timeout);
}

Client::ReceiveAwaiter::~ReceiveAwaiter() {
  if (c_.receiver_) c_.receiver_ = {};  // destroyed while suspended
  c_.resume_.reset();                   // (a deferred resume of it must not run)
}

std::optional<Message> Client::ReceiveAwaiter::await_resume() {
  if (c_.queue_.empty()) return std::nullopt;
  Message m = std::move(c_.queue_.front());
  c_.queue_.pop_front();
  c_.queued_bytes_ -= m.data.size();
  if (c_.paused_ && c_.queued_bytes_ <= c_.options_.max_queued_bytes / 2) {
    c_.paused_ = false;
    (void)c_.stream_->read_start();
  }
  return m;
}

// ---- writing and closing ----------------------------------------------------------------

void Client::write_frame(Opcode op, std::string_view payload, bool compress) {
  if (entropy_used_ + 4 > entropy_.size()) {
    if (RAND_bytes(entropy_.data(), static_cast<int>(entropy_.size())) != 1) {
      throw std::runtime_error("ws: RAND_bytes failed");
    }
    entropy_used_ = 0;
  }
  std::array<std::uint8_t, 4> mask;
  std::memcpy(mask.data(), entropy_.data() + entropy_used_, 4);
  entropy_used_ += 4;
  std::string frame;
  if (compress) {
    std::string z;
    deflater_->compress(payload, z);
    encode_frame(frame, op, z, FrameFlags{.fin = true, .rsv1 = true}, &mask);
  } else {
    encode_frame(frame, op, payload, {}, &mask);
  }
  stream_->write(std::move(frame));
}

SendResult Client::send(std::string_view message, Opcode op) {
  if (state_ != State::open) return {SendStatus::closed, buffered_amount()};
  write_frame(op, message, deflater_ && message.size() >= options_.compression.min_size);
  return {SendStatus::sent, buffered_amount()};
}

void Client::ping(std::string_view payload) {
  if (state_ == State::open) write_frame(Opcode::ping, payload.substr(0, 125));
}

void Client::close(std::uint16_t code, std::string_view reason) {
  if (state_ != State::open) return;
  if (!is_valid_close_code(code)) code = close_code::normal;
  state_ = State::closing;
  write_frame(Opcode::close, close_payload(code, reason));
  timer_.start([this] { finish(close_code_); }, options_.close_timeout);
}

void Client::fail(std::uint16_t code, std::string_view reason) {
  close_code_ = code;
  close_reason_ = std::string(reason);
  if (state_ != State::open) return;
  state_ = State::closing;
  write_frame(Opcode::close, close_payload(code, reason));
  timer_.start([this] { finish(close_code_); }, options_.close_timeout);
}

void Client::terminate() { finish(close_code::abnormal); }

void Client::finish(std::uint16_t code) {
  if (state_ == State::closed) return;
  const bool was_open = state_ >= State::open;
  state_ = State::closed;
  close_code_ = code;
  timer_.stop();
  if (stream_) stream_->close();
  if (was_open && close_cb_) close_cb_(close_code_, close_reason_);
  wake();  // a receive() returns nullopt; last: it may destroy us
}

// ---- connect ------------------------------------------------------------------------------

Task<std::unique_ptr<Client>> connect(std::string url, ConnectOptions options) {
  Loop* loop = Loop::current();
  if (!loop) throw std::logic_error("ws::connect: not on a loop thread");
  const Url u = parse_url(url);
  auto client = std::make_unique<Client>(*loop, std::move(options));
  co_await client->open(u.host, u.port, u.target, u.secure);
  co_return client;
}

Task<std::unique_ptr<Client>> connect(std::string url) {
  return connect(std::move(url), ConnectOptions{});
}

}  // namespace weft::ws
