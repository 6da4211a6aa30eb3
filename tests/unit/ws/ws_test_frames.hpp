// Raw frame builders for the WebSocket tests: any header, masked or not, including the
// malformed ones an encoder would never write.
#pragma once

#include <weft/ws/frame.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::ws::testing {

inline constexpr std::array<std::uint8_t, 4> kMask = {0x37, 0xfa, 0x21, 0x3d};

struct RawFrame {
  std::uint8_t opcode = 0x1;
  bool fin = true;
  std::uint8_t rsv = 0;  // bits 0x40, 0x20, 0x10
  bool masked = true;
  int length_form = 0;   // 0: shortest; 126 or 127: force that encoding
  bool top_bit = false;  // set the 64-bit length's top bit
};

inline std::string raw_frame(std::string_view payload, RawFrame f = {}) {
  std::string out;
  out.push_back(static_cast<char>((f.fin ? 0x80 : 0) | f.rsv | f.opcode));
  const std::uint64_t n = payload.size();
  const std::uint8_t m = f.masked ? 0x80 : 0;
  int form = f.length_form ? f.length_form : n < 126 ? 0 : n <= 0xFFFF ? 126 : 127;
  if (form == 0) {
    out.push_back(static_cast<char>(m | n));
  } else if (form == 126) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int i = 0; i < 8; ++i) {
      auto b = static_cast<std::uint8_t>(n >> (56 - 8 * i));
      if (i == 0 && f.top_bit) b |= 0x80;
      out.push_back(static_cast<char>(b));
    }
  }
  std::string body(payload);
  if (f.masked) {
    out.append(reinterpret_cast<const char*>(kMask.data()), 4);
    apply_mask(body.data(), body.size(), kMask, 0);
  }
  return out + body;
}

inline std::string close_frame(std::uint16_t code, std::string_view reason = {},
                               bool masked = true) {
  std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  payload.append(reason);
  return raw_frame(payload, {.opcode = 0x8, .masked = masked});
}

}  // namespace weft::ws::testing
