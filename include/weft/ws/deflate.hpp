// permessage-deflate (RFC 7692): negotiation and the zlib compressor/decompressor.
//
// weft's server always answers server_no_context_takeover: it compresses every message on
// its own (the loop's one compressor, reset after each message), so a published message
// is compressed once for every subscriber, and a connection holds no compressor at all.
// What a connection holds is its decompressor — the client may keep its context — of
// 2^client_max_window_bits bytes of window plus zlib's state (~7 KiB); it is made at the
// first compressed message and freed after each one when the client does not keep context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace weft::ws {

struct CompressionOptions {
  bool enabled = false;             // off by default on the server
  int client_max_window_bits = 15;  // 9..15: bounds each connection's decompressor
  std::size_t min_size = 64;        // smaller messages go out uncompressed
  int level = 1;                    // zlib level: speed over ratio, as on the wire elsewhere
};

// What was agreed for one connection.
struct DeflateParams {
  bool client_no_context_takeover = false;
  int client_max_window_bits = 15;
  int server_max_window_bits = 15;
  std::string response;  // the Sec-WebSocket-Extensions value to answer with
};

// Picks the first acceptable offer of a Sec-WebSocket-Extensions value (several fields are
// joined with ", "); nullopt when none is (an offer with an unknown, repeated or malformed
// parameter is declined, as is server_max_window_bits=8, which zlib cannot produce).
std::optional<DeflateParams> negotiate_deflate(std::string_view offers,
                                               const CompressionOptions& options);

// The client's side: what the server's Sec-WebSocket-Extensions answer agreed to (our offer
// was "permessage-deflate; client_max_window_bits"); nullopt when it is not a valid answer
// to that offer.
std::optional<DeflateParams> parse_deflate_answer(std::string_view answer);

// Raw deflate of whole messages, without context between them. Not thread-safe.
class Deflater {
 public:
  explicit Deflater(int window_bits = 15, int level = 1);
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  // Appends the message's compressed form (without the 00 00 FF FF tail) to out.
  void compress(std::string_view message, std::string& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class Inflater {
 public:
  explicit Inflater(int window_bits = 15);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  enum class Result : std::uint8_t { ok, too_big, corrupt };
  // Decompresses one message (the tail is added here) into out, at most max_size bytes.
  Result decompress(std::string_view compressed, std::string& out, std::size_t max_size);
  // The bytes zlib holds for this decompressor (window + state), for the memory figures.
  static std::size_t memory(int window_bits) noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace weft::ws
