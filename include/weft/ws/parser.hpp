// The WebSocket frame parser: pure and incremental (RFC 6455 §5).
//
// parse() takes whatever bytes have arrived — any split, down to one byte at a time — and
// resumes where the last call stopped; it consumes every byte it is given (a partial
// header is kept in the parser, at most 14 bytes) until the connection ends: after a close
// frame or an error the rest is not consumed. Events go to a ParserEvents:
//
// * on_message: a whole text or binary message, fragments reassembled. The payload is a
//   view valid during the call: into the caller's bytes (unmasked in place) when the
//   message is one frame that arrived in one piece, else into the parser's buffer.
// * on_ping / on_pong / on_close: control frames, also between the fragments of a message.
//   on_close gets the code (close_code::no_status for an empty payload) and the reason.
//
// Errors (the parser fails and reports the close code to send and why):
// * 1002 protocol_error: RSV bits set (RSV1 only with allow_rsv1), an unknown opcode, a
//   control frame over 125 bytes or fragmented, a continuation with no message started, a
//   new message inside a fragmented one, a client frame that is not masked (server role) or
//   a server frame that is (client role), a 64-bit length with its top bit set, a close
//   payload of 1 byte, a close code that is not valid on the wire;
// * 1007 invalid_payload: a text message or a close reason that is not UTF-8 — found at the
//   first bad byte, before the rest of the message arrives;
// * 1009 message_too_big: a message (the sum of its fragments) over max_message_size —
//   found from the frame headers, before the payload is buffered.
#pragma once

#include <weft/ws/frame.hpp>
#include <weft/ws/utf8.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace weft::ws {

struct ParserOptions {
  Role role = Role::server;
  std::size_t max_message_size = 1024 * 1024;  // the whole message, all fragments: 1009
  bool allow_rsv1 = false;  // permessage-deflate negotiated (RSV1 on a message's first frame)
};

class ParserEvents {
 public:
  // compressed: RSV1 was set on the message's first frame (permessage-deflate).
  virtual void on_message(Opcode op, std::string_view payload, bool compressed) = 0;
  virtual void on_ping(std::string_view payload) = 0;
  virtual void on_pong(std::string_view payload) = 0;
  virtual void on_close(std::uint16_t code, std::string_view reason) = 0;

 protected:
  ~ParserEvents() = default;
};

class Parser {
 public:
  explicit Parser(ParserOptions options = {}) : options_(options) {}

  // Consumes bytes (unmasking payloads in place) and reports events. Returns how many
  // bytes were consumed: all of them, unless a close frame ended the stream or an error
  // occurred (then see error()). Calls after that consume nothing.
  std::size_t parse(std::span<char> data, ParserEvents& events);

  bool failed() const noexcept { return error_code_ != 0; }
  // The close code to send (0 while not failed) and a short description for the reason.
  std::uint16_t error_code() const noexcept { return error_code_; }
  std::string_view error_message() const noexcept { return error_message_; }
  // A close frame was parsed: the peer sends nothing more.
  bool closed() const noexcept { return closed_; }
  // Between messages: no partial frame header, payload or fragmented message held.
  bool idle() const noexcept {
    return state_ == State::header && hlen_ == 0 && message_op_ == Opcode::continuation;
  }
  // Bytes of a fragmented message held so far (what max_message_size bounds).
  std::size_t buffered() const noexcept { return bufs_ ? bufs_->message.size() : 0; }
  void set_max_message_size(std::size_t n) noexcept { options_.max_message_size = n; }
  const ParserOptions& options() const noexcept { return options_; }
  // Frees the reassembly buffers (between messages they hold nothing that is needed).
  void shrink() noexcept;

 private:
  enum class State : std::uint8_t { header, payload, done };

  std::size_t parse_header(const char* p, std::size_t n);
  bool decode_header();
  bool check_header(std::uint8_t b0, std::uint8_t b1);
  bool start_frame();
  std::size_t parse_payload(char* p, std::size_t n, bool whole_in_view, ParserEvents& events);
  bool take_payload(char* p, std::size_t n);
  void end_frame(std::string_view direct, ParserEvents& events);
  void end_control(std::string_view payload, ParserEvents& events);
  void end_close(std::string_view payload, ParserEvents& events);
  bool fail(std::uint16_t code, const char* message) noexcept;

  // Split frames and fragmented messages only: made when first needed (an idle
  // connection's parser holds no buffer).
  struct Buffers {
    std::string message;  // the message being reassembled
    std::string control;  // a control frame's payload split over reads
  };
  Buffers& buffers();

  // Small fields first, packed: a parser per connection (see ws/websocket.hpp, "Memory").
  ParserOptions options_;
  std::array<std::uint8_t, 14> hbuf_{};  // the current frame's header bytes so far
  std::array<std::uint8_t, 4> mask_{};
  State state_ = State::header;
  std::uint8_t hlen_ = 0;
  std::uint8_t hneed_ = 2;
  Opcode op_ = Opcode::continuation;
  bool fin_ = false;
  bool rsv1_ = false;
  bool masked_ = false;
  std::uint8_t mask_phase_ = 0;
  Opcode message_op_ = Opcode::continuation;  // continuation: no message in progress
  bool message_compressed_ = false;
  bool closed_ = false;
  std::uint16_t error_code_ = 0;
  Utf8Validator utf8_;
  std::uint64_t remaining_ = 0;  // payload bytes still to come
  std::uint64_t length_ = 0;     // this frame's payload length
  const char* error_message_ = "";
  std::unique_ptr<Buffers> bufs_;
};

}  // namespace weft::ws
