// WebSocket frames (RFC 6455 §5): opcodes, close codes and the frame encoder.
//
// Pure: no I/O, no loop. The parser (ws/parser.hpp) reads what encode_frame() writes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::ws {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Which end of the connection this is: a server expects masked frames and sends
// unmasked ones; a client the reverse (RFC 6455 §5.1).
enum class Role : std::uint8_t { server, client };

// Close status codes (RFC 6455 §7.4.1) used by weft itself.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;        // never sent: no code was received
inline constexpr std::uint16_t abnormal = 1006;         // never sent: no close frame at all
inline constexpr std::uint16_t invalid_payload = 1007;  // e.g. text that is not UTF-8
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
}  // namespace close_code

// Whether `code` may appear in a close frame on the wire: 1000-1003, 1007-1014 (the
// registered ones) and 3000-4999 (libraries and applications). 1004-1006 and 1015 are
// reserved and never sent; everything else (below 1000, 1016-2999, 5000 up) is invalid.
constexpr bool is_valid_close_code(std::uint16_t code) noexcept {
  if (code >= 3000 && code <= 4999) return true;
  if (code < 1000 || code > 1014) return false;
  return code != 1004 && code != 1005 && code != 1006;
}

// Size of a frame's header for a payload of `payload_size` bytes: 2, 4 or 10 bytes, plus
// 4 for the masking key when masked.
constexpr std::size_t frame_header_size(std::uint64_t payload_size, bool masked) noexcept {
  const std::size_t base = payload_size < 126 ? 2 : payload_size <= 0xFFFF ? 4 : 10;
  return base + (masked ? 4 : 0);
}

struct FrameFlags {
  bool fin = true;
  bool rsv1 = false;  // permessage-deflate's "compressed" bit
};

// Appends one frame to `out`: header (shortest length encoding) then payload, masked
// with *mask when given (client frames must be, server frames must not be).
void encode_frame(std::string& out, Opcode op, std::string_view payload, FrameFlags flags = {},
                  const std::array<std::uint8_t, 4>* mask = nullptr);

// A close frame's payload: the code (big-endian) and the reason, cut to fit 125 bytes at a
// UTF-8 character boundary. No code (no_status) gives an empty payload.
std::string close_payload(std::uint16_t code, std::string_view reason);

// XORs data with the masking key, starting at key offset `phase` (0..3); returns the
// phase after it, so a payload split over several calls unmasks correctly.
std::size_t apply_mask(char* data, std::size_t size, const std::array<std::uint8_t, 4>& key,
                       std::size_t phase) noexcept;

}  // namespace weft::ws
