// The incremental frame parser (ws/parser.hpp has the contract).
#include <weft/ws/parser.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

namespace weft::ws {

namespace {

bool is_control(Opcode op) noexcept { return static_cast<std::uint8_t>(op) >= 0x8; }

bool is_known(std::uint8_t op) noexcept { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

// Reassembly storage above this is given back after the message (a connection that once
// received a large message does not keep its buffer).
constexpr std::size_t kKeepCapacity = 64 * 1024;

}  // namespace

std::size_t Parser::parse(std::span<char> data, ParserEvents& events) {
  char* p = data.data();
  const std::size_t n = data.size();
  std::size_t off = 0;
  while (off < n && state_ != State::done) {
    if (state_ == State::header) {
      off += parse_header(p + off, n - off);
      if (state_ == State::payload && remaining_ == 0) end_frame({}, events);
      continue;
    }
    // A whole frame in view, not part of a fragmented message: delivered from the caller's
    // bytes, without a copy.
    const bool whole = remaining_ == length_ && length_ <= n - off &&
                       (is_control(op_) || (fin_ && op_ != Opcode::continuation));
    off += parse_payload(p + off, n - off, whole, events);
  }
  return off;
}

std::size_t Parser::parse_header(const char* p, std::size_t n) {
  if (hlen_ == 0 && n >= 2) {  // usually the whole header is in view: no byte loop
    hbuf_[0] = static_cast<std::uint8_t>(p[0]);
    hbuf_[1] = static_cast<std::uint8_t>(p[1]);
    hlen_ = 2;
    if (!check_header(hbuf_[0], hbuf_[1])) return 2;
    const std::size_t take = std::min<std::size_t>(n, hneed_);
    std::memcpy(hbuf_.data() + 2, p + 2, take - 2);
    hlen_ = static_cast<std::uint8_t>(take);
    if (hlen_ == hneed_ && decode_header()) start_frame();
    return take;
  }
  std::size_t used = 0;
  while (used < n && hlen_ < hneed_) {
    hbuf_[hlen_++] = static_cast<std::uint8_t>(p[used++]);
    if (hlen_ == 2 && !check_header(hbuf_[0], hbuf_[1])) return used;
  }
  if (hlen_ == hneed_ && decode_header()) start_frame();
  return used;
}

// The first two bytes: everything that can be rejected before the length and key arrive.
bool Parser::check_header(std::uint8_t b0, std::uint8_t b1) {
  fin_ = (b0 & 0x80) != 0;
  rsv1_ = (b0 & 0x40) != 0;
  masked_ = (b1 & 0x80) != 0;
  const std::uint8_t op = b0 & 0x0F;
  const std::uint8_t len7 = b1 & 0x7F;
  if (b0 & 0x30) return fail(close_code::protocol_error, "reserved bits RSV2/RSV3 set");
  if (!is_known(op)) return fail(close_code::protocol_error, "unknown opcode");
  op_ = static_cast<Opcode>(op);
  if (rsv1_ && (!options_.allow_rsv1 || is_control(op_) || op_ == Opcode::continuation)) {
    return fail(close_code::protocol_error, "reserved bit RSV1 set");
  }
  if (options_.role == Role::server && !masked_) {
    return fail(close_code::protocol_error, "client frame is not masked");
  }
  if (options_.role == Role::client && masked_) {
    return fail(close_code::protocol_error, "server frame is masked");
  }
  if (is_control(op_)) {
    if (!fin_) return fail(close_code::protocol_error, "fragmented control frame");
    if (len7 > 125) return fail(close_code::protocol_error, "control frame over 125 bytes");
  } else if (op_ == Opcode::continuation && message_op_ == Opcode::continuation) {
    return fail(close_code::protocol_error, "continuation frame without a message");
  } else if (op_ != Opcode::continuation && message_op_ != Opcode::continuation) {
    return fail(close_code::protocol_error, "new message inside a fragmented message");
  }
  hneed_ = static_cast<std::uint8_t>(2 +
                                     (len7 == 126   ? 2
                                      : len7 == 127 ? 8
                                                    : 0) +
                                     (masked_ ? 4 : 0));
  return true;
}

bool Parser::decode_header() {
  const std::uint8_t len7 = hbuf_[1] & 0x7F;
  std::size_t at = 2;
  length_ = len7;
  if (len7 == 126) {
    length_ = (std::uint64_t{hbuf_[2]} << 8) | hbuf_[3];
    at = 4;
  } else if (len7 == 127) {
    length_ = 0;
    for (std::size_t i = 2; i < 10; ++i) length_ = (length_ << 8) | hbuf_[i];
    at = 10;
    if (length_ >> 63) return fail(close_code::protocol_error, "frame length has its top bit set");
  }
  if (masked_) std::memcpy(mask_.data(), &hbuf_[at], 4);
  if (!is_control(op_) && length_ > options_.max_message_size - buffered()) {
    return fail(close_code::message_too_big, "message too big");
  }
  return true;
}

bool Parser::start_frame() {
  remaining_ = length_;
  mask_phase_ = 0;
  hlen_ = 0;
  hneed_ = 2;
  if (op_ == Opcode::text || op_ == Opcode::binary) {
    message_op_ = op_;
    message_compressed_ = rsv1_;
    utf8_.reset();
  }
  state_ = State::payload;
  return true;
}

std::size_t Parser::parse_payload(char* p, std::size_t n, bool whole, ParserEvents& events) {
  const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n));
  if (masked_) mask_phase_ = static_cast<std::uint8_t>(apply_mask(p, k, mask_, mask_phase_));
  if (whole) {
    remaining_ = 0;
    end_frame(std::string_view(p, k), events);
    return k;
  }
  if (!take_payload(p, k)) return k;
  remaining_ -= k;
  if (remaining_ == 0) end_frame({}, events);
  return k;
}

// Bytes of a frame that did not arrive whole: into the control or the message buffer,
// text checked as it comes.
bool Parser::take_payload(char* p, std::size_t n) {
  if (is_control(op_)) {
    buffers().control.append(p, n);
    return true;
  }
  if (message_op_ == Opcode::text && !message_compressed_ && !utf8_.feed({p, n})) {
    return fail(close_code::invalid_payload, "text message is not valid UTF-8");
  }
  buffers().message.append(p, n);
  return true;
}

// A frame's payload is complete; `direct` holds it when it arrived whole (else it is in
// the parser's buffers).
void Parser::end_frame(std::string_view direct, ParserEvents& events) {
  state_ = State::header;
  const bool from_view = direct.data() != nullptr;
  if (is_control(op_)) {
    end_control(
        from_view ? direct : (bufs_ ? std::string_view(bufs_->control) : std::string_view()),
        events);
    if (bufs_) bufs_->control.clear();
    return;
  }
  if (from_view && message_op_ == Opcode::text && !message_compressed_ && !utf8_.feed(direct)) {
    fail(close_code::invalid_payload, "text message is not valid UTF-8");
    return;
  }
  if (!fin_) return;
  if (message_op_ == Opcode::text && !message_compressed_ && !utf8_.complete()) {
    fail(close_code::invalid_payload, "text message ends inside a UTF-8 character");
    return;
  }
  const Opcode op = std::exchange(message_op_, Opcode::continuation);
  events.on_message(
      op, from_view ? direct : (bufs_ ? std::string_view(bufs_->message) : std::string_view()),
      message_compressed_);
  if (!bufs_) return;
  bufs_->message.clear();
  if (bufs_->message.capacity() > kKeepCapacity) std::string().swap(bufs_->message);
}

void Parser::end_control(std::string_view payload, ParserEvents& events) {
  if (op_ == Opcode::ping) {
    events.on_ping(payload);
  } else if (op_ == Opcode::pong) {
    events.on_pong(payload);
  } else {
    end_close(payload, events);
  }
}

void Parser::end_close(std::string_view payload, ParserEvents& events) {
  if (payload.size() == 1) {
    fail(close_code::protocol_error, "close frame with a 1-byte payload");
    return;
  }
  std::uint16_t code = close_code::no_status;
  std::string_view reason;
  if (payload.size() >= 2) {
    code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                      static_cast<std::uint8_t>(payload[1]));
    reason = payload.substr(2);
    if (!is_valid_close_code(code)) {
      fail(close_code::protocol_error, "invalid close code");
      return;
    }
    if (!is_valid_utf8(reason)) {
      fail(close_code::invalid_payload, "close reason is not valid UTF-8");
      return;
    }
  }
  closed_ = true;
  state_ = State::done;
  events.on_close(code, reason);
}

Parser::Buffers& Parser::buffers() {
  if (!bufs_) bufs_ = std::make_unique<Buffers>();
  return *bufs_;
}

bool Parser::fail(std::uint16_t code, const char* message) noexcept {
  if (error_code_ == 0) {
    error_code_ = code;
    error_message_ = message;
  }
  state_ = State::done;
  return false;
}

void Parser::shrink() noexcept { bufs_.reset(); }

}  // namespace weft::ws
