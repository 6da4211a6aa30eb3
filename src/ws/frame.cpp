// Frame encoding, close payloads, masking (ws/frame.hpp), and UTF-8 validation (ws/utf8.hpp).
#include <weft/ws/frame.hpp>
#include <weft/ws/utf8.hpp>

#include <cstring>

namespace weft::ws {

void encode_frame(std::string& out, Opcode op, std::string_view payload, FrameFlags flags,
                  const std::array<std::uint8_t, 4>* mask) {
  const std::uint64_t n = payload.size();
  const std::size_t start = out.size();
  out.resize(start + frame_header_size(n, mask != nullptr) + payload.size());
  auto* h = reinterpret_cast<std::uint8_t*>(out.data() + start);
  h[0] = static_cast<std::uint8_t>((flags.fin ? 0x80 : 0) | (flags.rsv1 ? 0x40 : 0) |
                                   static_cast<std::uint8_t>(op));
  const std::uint8_t mask_bit = mask ? 0x80 : 0;
  std::size_t at = 2;
  if (n < 126) {
    h[1] = static_cast<std::uint8_t>(mask_bit | n);
  } else if (n <= 0xFFFF) {
    h[1] = mask_bit | 126;
    h[2] = static_cast<std::uint8_t>(n >> 8);
    h[3] = static_cast<std::uint8_t>(n);
    at = 4;
  } else {
    h[1] = mask_bit | 127;
    for (int i = 0; i < 8; ++i) h[2 + i] = static_cast<std::uint8_t>(n >> (56 - 8 * i));
    at = 10;
  }
  if (mask) {
    std::memcpy(h + at, mask->data(), 4);
    at += 4;
  }
  char* body = out.data() + start + at;
  if (!payload.empty()) std::memcpy(body, payload.data(), payload.size());
  if (mask) apply_mask(body, payload.size(), *mask, 0);
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  if (code == close_code::no_status) return {};
  if (reason.size() > 123) {
    reason = reason.substr(0, 123);
    // Cut at a character boundary: drop trailing continuation bytes and their lead byte.
    std::size_t end = reason.size();
    while (end > 0 && (static_cast<std::uint8_t>(reason[end - 1]) & 0xC0) == 0x80) --end;
    if (end > 0 && static_cast<std::uint8_t>(reason[end - 1]) >= 0xC0) --end;
    if (!is_valid_utf8(reason)) reason = reason.substr(0, end);
  }
  std::string out;
  out.reserve(2 + reason.size());
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason);
  return out;
}

std::size_t apply_mask(char* data, std::size_t size, const std::array<std::uint8_t, 4>& key,
                       std::size_t phase) noexcept {
  std::size_t i = 0;
  // Align the key to the phase, then XOR 8 bytes at a time.
  for (; i < size && (phase & 3) != 0; ++i, ++phase) data[i] ^= static_cast<char>(key[phase & 3]);
  std::uint8_t k8[8];
  for (int j = 0; j < 8; ++j) k8[j] = key[static_cast<std::size_t>(j) & 3];
  std::uint64_t k;
  std::memcpy(&k, k8, 8);
  for (; i + 8 <= size; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= k;
    std::memcpy(data + i, &w, 8);
  }
  for (; i < size; ++i, ++phase) data[i] ^= static_cast<char>(key[phase & 3]);
  return phase & 3;
}

// ---- UTF-8 ------------------------------------------------------------------------------

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  if (failed_) return false;
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    if (need_ == 0) {
      while (i + 8 <= n) {  // an ASCII run, a word at a time
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull) break;
        i += 8;
      }
      if (i == n) break;
      const std::uint8_t b = p[i++];
      if (b < 0x80) continue;
      if (b >= 0xC2 && b <= 0xDF) {
        need_ = 1;
        lo_ = 0x80;
        hi_ = 0xBF;
      } else if (b >= 0xE0 && b <= 0xEF) {
        need_ = 2;
        lo_ = b == 0xE0 ? 0xA0 : 0x80;  // E0: no overlong forms
        hi_ = b == 0xED ? 0x9F : 0xBF;  // ED: no surrogates
      } else if (b >= 0xF0 && b <= 0xF4) {
        need_ = 3;
        lo_ = b == 0xF0 ? 0x90 : 0x80;  // F0: no overlong forms
        hi_ = b == 0xF4 ? 0x8F : 0xBF;  // F4: nothing above U+10FFFF
      } else {
        failed_ = true;
        return false;
      }
      continue;
    }
    const std::uint8_t b = p[i++];
    if (b < lo_ || b > hi_) {
      failed_ = true;
      return false;
    }
    lo_ = 0x80;
    hi_ = 0xBF;
    --need_;
  }
  return true;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  Utf8Validator v;
  return v.feed(bytes) && v.complete();
}

}  // namespace weft::ws
