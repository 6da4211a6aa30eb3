// permessage-deflate: negotiation and zlib (ws/deflate.hpp).
#include <weft/ws/deflate.hpp>

#include <zlib.h>

#include <cctype>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

namespace weft::ws {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits at `sep` outside quoted strings.
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    if (s[i] == sep && !quoted) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(s.substr(start)));
  return out;
}

// A window-bits value: 8..15, digits only (quotes allowed, RFC 7692 §7.1.2.1).
int parse_bits(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 2) return -1;
  int n = 0;
  for (char c : v) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    n = n * 10 + (c - '0');
  }
  return n >= 8 && n <= 15 ? n : -1;
}

struct Offer {
  bool server_no_context = false, client_no_context = false;
  int server_bits = 0;   // 0: not given
  int client_bits = -1;  // -1: not given; 0: given without a value
};

// One offer's parameters; false when the offer must be declined.
bool parse_offer(const std::vector<std::string_view>& params, Offer& o) {
  bool seen[4] = {};
  for (std::size_t i = 1; i < params.size(); ++i) {
    const std::string_view p = params[i];
    const std::size_t eq = p.find('=');
    const std::string_view name = trim(p.substr(0, eq));
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : trim(p.substr(eq + 1));
    const bool has_value = eq != std::string_view::npos;
    int k = -1;
    if (name == "server_no_context_takeover" && !has_value) {
      k = 0;
      o.server_no_context = true;
    } else if (name == "client_no_context_takeover" && !has_value) {
      k = 1;
      o.client_no_context = true;
    } else if (name == "server_max_window_bits" && has_value) {
      k = 2;
      o.server_bits = parse_bits(value);
    } else if (name == "client_max_window_bits") {
      k = 3;
      o.client_bits = has_value ? parse_bits(value) : 0;
    }
    if (k < 0 || seen[k] || o.server_bits < 0 || o.client_bits < -1) return false;
    seen[k] = true;
  }
  return o.server_bits != 8;  // zlib's raw deflate cannot keep to a 256-byte window
}

}  // namespace

std::optional<DeflateParams> negotiate_deflate(std::string_view offers,
                                               const CompressionOptions& options) {
  if (!options.enabled || offers.empty()) return std::nullopt;
  for (std::string_view offer : split(offers, ',')) {
    const std::vector<std::string_view> params = split(offer, ';');
    if (params.front() != "permessage-deflate") continue;
    Offer o;
    if (!parse_offer(params, o)) continue;
    DeflateParams d;
    d.server_max_window_bits = o.server_bits ? o.server_bits : 15;
    d.client_no_context_takeover = o.client_no_context;
    d.response = "permessage-deflate; server_no_context_takeover";
    if (o.client_no_context) d.response += "; client_no_context_takeover";
    if (o.server_bits) d.response += "; server_max_window_bits=" + std::to_string(o.server_bits);
    int client_bits = options.client_max_window_bits;
    if (o.client_bits > 0 && o.client_bits < client_bits) client_bits = o.client_bits;
    if (o.client_bits >= 0) {
      d.client_max_window_bits = client_bits;
      d.response += "; client_max_window_bits=" + std::to_string(client_bits);
    } else if (client_bits < 15) {
      continue;  // we need a smaller window than a client that cannot be told would use
    }
    return d;
  }
  return std::nullopt;
}

std::optional<DeflateParams> parse_deflate_answer(std::string_view answer) {
  const std::vector<std::string_view> params = split(answer, ';');
  Offer o;
  if (params.front() != "permessage-deflate" || !parse_offer(params, o) || o.client_bits == 0) {
    return std::nullopt;
  }
  DeflateParams d;
  d.server_max_window_bits = o.server_bits ? o.server_bits : 15;
  d.client_max_window_bits = o.client_bits > 0 ? o.client_bits : 15;
  d.client_no_context_takeover = o.client_no_context;
  d.response = std::string(answer);
  return d;
}

// ---- Deflater ------------------------------------------------------------------------------

struct Deflater::State {
  z_stream z{};
};

Deflater::Deflater(int window_bits, int level) : state_(std::make_unique<State>()) {
  // 9 for a requested 8 would break the peer's window; negotiate_deflate declines 8.
  if (deflateInit2(&state_->z, level, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::bad_alloc();
  }
}

Deflater::~Deflater() { deflateEnd(&state_->z); }

void Deflater::compress(std::string_view message, std::string& out) {
  z_stream& z = state_->z;
  const std::size_t start = out.size();
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  z.avail_in = static_cast<uInt>(message.size());
  std::size_t room = deflateBound(&z, static_cast<uLong>(message.size())) + 16;
  for (;;) {
    const std::size_t at = out.size();
    out.resize(at + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + at);
    z.avail_out = static_cast<uInt>(room);
    deflate(&z, Z_SYNC_FLUSH);
    out.resize(out.size() - z.avail_out);
    if (z.avail_out != 0) break;  // all flushed
    room = 4096;
  }
  // Z_SYNC_FLUSH ends with an empty stored block, 00 00 FF FF: the receiver adds it back.
  if (out.size() - start >= 4) out.resize(out.size() - 4);
  deflateReset(&z);
}

// ---- Inflater ------------------------------------------------------------------------------

struct Inflater::State {
  z_stream z{};
};

Inflater::Inflater(int window_bits) : state_(std::make_unique<State>()) {
  if (inflateInit2(&state_->z, -window_bits) != Z_OK) throw std::bad_alloc();
}

Inflater::~Inflater() { inflateEnd(&state_->z); }

std::size_t Inflater::memory(int window_bits) noexcept {
  return (std::size_t{1} << window_bits) + 7 * 1024;  // zlib's inflate_state is ~7 KiB
}

Inflater::Result Inflater::decompress(std::string_view compressed, std::string& out,
                                      std::size_t max_size) {
  static const unsigned char kTail[4] = {0x00, 0x00, 0xFF, 0xFF};
  z_stream& z = state_->z;
  out.clear();
  for (int part = 0; part < 2; ++part) {
    z.next_in = part == 0 ? reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()))
                          : const_cast<Bytef*>(kTail);
    z.avail_in = static_cast<uInt>(part == 0 ? compressed.size() : 4);
    do {  // until the input is used up and zlib has nothing more to give
      char buf[16 * 1024];
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      const int r = inflate(&z, Z_SYNC_FLUSH);
      if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END) return Result::corrupt;
      const std::size_t n = sizeof buf - z.avail_out;
      if (out.size() + n > max_size) return Result::too_big;
      out.append(buf, n);
      if (r == Z_BUF_ERROR && n == 0) break;
      if (r == Z_STREAM_END) {  // a final block: the next message starts a new stream
        inflateReset(&z);
        break;
      }
    } while (z.avail_in > 0 || z.avail_out == 0);
  }
  return Result::ok;
}

}  // namespace weft::ws
