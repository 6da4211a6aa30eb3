#include "ws_test_client.hpp"

#include <poll.h>
#include <sys/socket.h>

namespace weft::itest {

namespace {

constexpr std::array<std::uint8_t, 4> kMask = {0x12, 0x9a, 0x5c, 0xe1};

struct Collect final : ws::ParserEvents {
  std::vector<WsFrameEvent>& out;
  explicit Collect(std::vector<WsFrameEvent>& o) : out(o) {}
  void on_message(ws::Opcode op, std::string_view p, bool compressed) override {
    out.push_back(
        {op == ws::Opcode::text ? "text" : "binary", std::string(p), 0, compressed, p.size()});
  }
  void on_ping(std::string_view p) override { out.push_back({"ping", std::string(p), 0}); }
  void on_pong(std::string_view p) override { out.push_back({"pong", std::string(p), 0}); }
  void on_close(std::uint16_t code, std::string_view reason) override {
    out.push_back({"close", std::string(reason), code});
  }
};

}  // namespace

std::string WsFrameEvent::str() const {
  if (kind == "binary") return "binary:" + std::to_string(payload.size());
  if (kind == "close") return "close:" + std::to_string(code);
  return kind + ":" + payload;
}

WsClient WsClient::connect(std::uint16_t port, std::string_view path,
                           std::string_view extra_headers, int rcvbuf) {
  WsClient c;
  c.raw_ = RawClient::tcp(port, rcvbuf);
  if (!c.raw_.ok()) return c;
  std::string headers =
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  headers += extra_headers;
  if (!c.raw_.send(get_request(path, headers))) return c;
  auto res = c.raw_.read_response(true);
  if (!res) return c;
  c.handshake_ = *res;
  c.ok_ = res->status == 101;
  if (res->header("sec-websocket-extensions")) {
    c.parser_ = ws::Parser(ws::ParserOptions{
        .role = ws::Role::client, .max_message_size = 256 * 1024 * 1024, .allow_rsv1 = true});
    c.inflater_ = std::make_unique<ws::Inflater>(15);
  }
  // Bytes after the head (frames sent at once) stay in the raw client's buffer.
  c.inbuf_ = std::string(c.raw_.buffered());
  return c;
}

bool WsClient::send(std::string_view payload, ws::Opcode op) {
  std::string frame;
  ws::encode_frame(frame, op, payload, {}, &kMask);
  return raw_.send(frame);
}

bool WsClient::send_close(std::uint16_t code, std::string_view reason) {
  return send(ws::close_payload(code, reason), ws::Opcode::close);
}

std::optional<WsFrameEvent> WsClient::next(Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  Collect sink(pending_);
  for (;;) {
    if (!inbuf_.empty() && !parser_.failed() && !parser_.closed()) {
      parser_.parse({inbuf_.data(), inbuf_.size()}, sink);
      inbuf_.clear();
    }
    if (parser_.failed()) {
      error = std::string(parser_.error_message());
      return std::nullopt;
    }
    if (!pending_.empty()) {
      WsFrameEvent e = std::move(pending_.front());
      pending_.erase(pending_.begin());
      if (e.compressed) {
        std::string out;
        if (!inflater_ ||
            inflater_->decompress(e.payload, out, 256 * 1024 * 1024) != ws::Inflater::Result::ok) {
          error = "cannot inflate";
          return std::nullopt;
        }
        e.payload = std::move(out);
      }
      if (answers_pings && e.kind == "ping") send(e.payload, ws::Opcode::pong);
      return e;
    }
    const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
    if (left <= Ms(0)) {
      error = "timeout";
      return std::nullopt;
    }
    pollfd p{raw_.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(raw_.fd(), buf, sizeof buf, 0);
    if (n <= 0) {
      error = n == 0 ? "eof" : "recv error";
      return std::nullopt;
    }
    inbuf_.append(buf, static_cast<std::size_t>(n));
  }
}

std::vector<std::string> WsClient::until_closed(Ms timeout) {
  std::vector<std::string> seen;
  const auto deadline = Clock::now() + timeout;
  while (auto e = next(std::chrono::duration_cast<Ms>(deadline - Clock::now()))) {
    seen.push_back(e->str());
    if (e->kind == "close") break;
  }
  return seen;
}

}  // namespace weft::itest
