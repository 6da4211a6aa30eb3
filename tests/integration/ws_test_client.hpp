// A blocking WebSocket test client over a raw socket: it sends any bytes (well-formed
// frames or not) and reads the server's frames with weft's own parser in the client role
// (which thereby checks that server frames are unmasked and well-formed).
#pragma once

#include "http_test_client.hpp"

#include <weft/ws/deflate.hpp>
#include <weft/ws/parser.hpp>

#include <memory>

#include <optional>
#include <string>
#include <vector>

namespace weft::itest {

struct WsFrameEvent {
  std::string kind;  // "text", "binary", "ping", "pong", "close"
  std::string payload;
  std::uint16_t code = 0;     // close
  bool compressed = false;    // RSV1: payload inflated by next()
  std::size_t wire_size = 0;  // the payload's size as sent
  std::string str() const;    // "text:..", "binary:<n>", "pong:..", "close:<code>"
};

class WsClient {
 public:
  // Connects and completes the handshake (extra_headers: more request fields).
  static WsClient connect(std::uint16_t port, std::string_view path = "/ws",
                          std::string_view extra_headers = {}, int rcvbuf = 0);
  bool ok() const noexcept { return ok_; }
  const HttpResponse& handshake() const noexcept { return handshake_; }
  RawClient& raw() noexcept { return raw_; }

  bool send_raw(std::string_view bytes) { return raw_.send(bytes); }
  // One masked frame.
  bool send(std::string_view payload, ws::Opcode op = ws::Opcode::text);
  bool send_close(std::uint16_t code, std::string_view reason = {});
  // The next frame from the server; nullopt at EOF, on timeout or a protocol error (the
  // parser's error then in error()).
  std::optional<WsFrameEvent> next(Ms timeout = 5000ms);
  // Reads frames until the server's close and its EOF; returns every frame seen as str().
  std::vector<std::string> until_closed(Ms timeout = 5000ms);
  bool answers_pings = false;  // next() answers pings itself (and still returns them)
  std::string error;

 private:
  RawClient raw_;
  HttpResponse handshake_;
  ws::Parser parser_{ws::ParserOptions{
      .role = ws::Role::client, .max_message_size = 256 * 1024 * 1024, .allow_rsv1 = false}};
  std::vector<WsFrameEvent> pending_;
  std::unique_ptr<ws::Inflater> inflater_;  // permessage-deflate was agreed
  std::string inbuf_;
  bool ok_ = false;
};

}  // namespace weft::itest
