// Content-Encoding decoders for response bodies: gzip and deflate (zlib), br (brotli).
// Each stops producing once it passed the room it was given, so a small compressed body
// that inflates without end (a "bomb") costs at most max_response_size + one step.
#include <brotli/decode.h>
#include <zlib.h>

#include <algorithm>
#include <string>

#include "http_client/internal.hpp"

namespace weft::http::detail {

namespace {

[[noreturn]] void undecodable(const std::string& why) {
  throw FetchError(FetchErrc::decode, "cannot decode the response body: " + why);
}

constexpr std::size_t kStep = 16 * 1024;  // output grown per decoding call

class Inflater final : public Decoder {
 public:
  explicit Inflater(bool gzip) : gzip_(gzip) {}
  ~Inflater() override {
    if (begun_) inflateEnd(&z_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  void feed(std::string_view in, std::string& out, std::uint64_t room) override;
  bool finished() const noexcept override { return ended_; }
  bool started() const noexcept override { return begun_; }

 private:
  void start(int window_bits) {
    if (inflateInit2(&z_, window_bits) != Z_OK) undecodable("zlib init failed");
    begun_ = true;
  }
  z_stream z_{};
  bool gzip_, begun_ = false, ended_ = false;
};

// "deflate" is the zlib format (RFC 9110 §8.4.1.2), but some servers send raw deflate:
// the first two bytes tell which (a zlib header is a multiple of 31 with method 8).
void Inflater::feed(std::string_view in, std::string& out, std::uint64_t room) {
  if (!begun_) {
    const bool zlib_header =
        in.size() >= 2 && (static_cast<unsigned char>(in[0]) & 0x0f) == 8 &&
        ((static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1])) % 31 == 0;
    start(gzip_ ? 15 + 16 : (zlib_header ? 15 : -15));
  }
  const std::size_t base = out.size();
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_.avail_in = static_cast<uInt>(in.size());
  while (z_.avail_in > 0 && !ended_) {
    const std::size_t at = out.size();
    out.resize(at + kStep);
    z_.next_out = reinterpret_cast<Bytef*>(out.data() + at);
    z_.avail_out = static_cast<uInt>(kStep);
    const int rc = inflate(&z_, Z_NO_FLUSH);
    out.resize(at + (kStep - z_.avail_out));
    if (rc == Z_STREAM_END)
      ended_ = true;
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
      undecodable(z_.msg ? z_.msg : "corrupt data");
    if (out.size() - base > room) return;  // the caller reports too_large
    if (rc == Z_BUF_ERROR) break;
  }
}

class BrotliDecoder final : public Decoder {
 public:
  BrotliDecoder() : s_(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr)) {
    if (!s_) undecodable("brotli init failed");
  }
  ~BrotliDecoder() override { BrotliDecoderDestroyInstance(s_); }
  BrotliDecoder(const BrotliDecoder&) = delete;
  BrotliDecoder& operator=(const BrotliDecoder&) = delete;
  void feed(std::string_view in, std::string& out, std::uint64_t room) override;
  bool finished() const noexcept override { return ended_; }
  bool started() const noexcept override { return begun_; }

 private:
  BrotliDecoderState* s_;
  bool begun_ = false, ended_ = false;
};

void BrotliDecoder::feed(std::string_view in, std::string& out, std::uint64_t room) {
  begun_ = begun_ || !in.empty();
  const std::size_t base = out.size();
  auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
  std::size_t avail_in = in.size();
  for (;;) {
    if (ended_) {
      if (avail_in > 0) undecodable("bytes after the end of the brotli stream");
      return;
    }
    const std::size_t at = out.size();
    out.resize(at + kStep);
    auto* next_out = reinterpret_cast<std::uint8_t*>(out.data() + at);
    std::size_t avail_out = kStep;
    const BrotliDecoderResult r =
        BrotliDecoderDecompressStream(s_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.resize(at + (kStep - avail_out));
    if (r == BROTLI_DECODER_RESULT_ERROR)
      undecodable(std::string("brotli: ") +
                  BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s_)));
    if (r == BROTLI_DECODER_RESULT_SUCCESS) ended_ = true;
    if (out.size() - base > room) return;  // the caller reports too_large
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return;
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(std::string_view encoding) {
  if (iequals(encoding, "gzip") || iequals(encoding, "x-gzip"))
    return std::make_unique<Inflater>(true);
  if (iequals(encoding, "deflate")) return std::make_unique<Inflater>(false);
  if (iequals(encoding, "br")) return std::make_unique<BrotliDecoder>();
  return nullptr;
}

}  // namespace weft::http::detail
