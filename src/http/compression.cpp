// http::compression: zlib (gzip, deflate) and brotli, inline or on the pool (compression.hpp).
#include <weft/http/compression.hpp>

#include "http/parse_chars.hpp"

#include <weft/async.hpp>

#include <brotli/encode.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace weft::http {
namespace {

// The q-value of `coding` in an Accept-Encoding value: -1 when not listed; "*" counts
// for a coding not listed by name.
double q_of(std::string_view header, std::string_view coding) {
  double named = -1, star = -1;
  chars::for_each_element(header, [&](std::string_view item) {
    const std::size_t semi = item.find(';');
    const std::string_view name = chars::trim_ows(item.substr(0, semi));
    double q = 1;
    if (semi != std::string_view::npos) {
      std::string_view param = chars::trim_ows(item.substr(semi + 1));
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        q = std::strtod(std::string(param.substr(2)).c_str(), nullptr);
      }
    }
    if (chars::iequals(name, coding)) named = q;
    if (name == "*") star = q;
    return true;
  });
  return named >= 0 ? named : star;
}

bool compressible(std::string_view content_type) {
  const std::string_view type = chars::trim_ows(content_type.substr(0, content_type.find(';')));
  auto starts = [&](std::string_view p) {
    return type.size() >= p.size() && chars::iequals(type.substr(0, p.size()), p);
  };
  auto ends = [&](std::string_view s) {
    return type.size() >= s.size() && chars::iequals(type.substr(type.size() - s.size()), s);
  };
  return starts("text/") || ends("/json") || ends("+json") || ends("/javascript") || ends("/xml") ||
         ends("+xml") || ends("/wasm") || starts("image/svg") ||
         starts("application/x-www-form-urlencoded") || ends("/ndjson");
}

// One deflate state per thread (the loop's and each pool worker's that compresses), reset
// between bodies: deflateInit2 allocates ~256 KiB, and doing that per response made glibc
// grow and trim the heap every time (page faults, brk, TLB flushes: a third of the server's
// CPU on a 3.6 KB JSON response in a perf profile, bench/framework in docs/BENCHMARKS.md).
class Deflater {
 public:
  Deflater() = default;
  ~Deflater() {
    if (open_) deflateEnd(&z_);
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // The stream ready for a new body with these parameters; nullptr if zlib failed.
  z_stream* get(bool gzip, int level) {
    if (open_ && gzip == gzip_ && level == level_) {
      if (deflateReset(&z_) == Z_OK) return &z_;
    }
    if (open_) deflateEnd(&z_);
    z_ = z_stream{};
    const int bits = gzip ? 15 + 16 : 15;
    open_ = deflateInit2(&z_, level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    gzip_ = gzip;
    level_ = level;
    return open_ ? &z_ : nullptr;
  }

 private:
  z_stream z_{};
  bool open_ = false;
  bool gzip_ = false;
  int level_ = 0;
};

std::optional<std::string> zlib_compress(std::string_view body, bool gzip, int level) {
  thread_local Deflater deflater;
  z_stream* z = deflater.get(gzip, level);
  if (z == nullptr) return std::nullopt;
  std::string out(deflateBound(z, static_cast<uLong>(body.size())) + 32, '\0');
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z->avail_in = static_cast<uInt>(body.size());
  z->next_out = reinterpret_cast<Bytef*>(out.data());
  z->avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(z, Z_FINISH);
  out.resize(z->total_out);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

std::optional<std::string> brotli_compress(std::string_view body, int quality) {
  std::size_t size = BrotliEncoderMaxCompressedSize(body.size());
  if (size == 0) size = body.size() + 1024;
  std::string out(size, '\0');
  if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, body.size(),
                             reinterpret_cast<const std::uint8_t*>(body.data()), &size,
                             reinterpret_cast<std::uint8_t*>(out.data()))) {
    return std::nullopt;
  }
  out.resize(size);
  return out;
}

std::string_view coding_name(Coding c) {
  switch (c) {
    case Coding::br:
      return "br";
    case Coding::gzip:
      return "gzip";
    case Coding::deflate:
      return "deflate";
    case Coding::identity:
      break;
  }
  return "identity";
}

void add_vary(Response& res) {
  std::string vary(res.header_value("Vary"));
  if (vary == "*" || vary.find("Accept-Encoding") != std::string::npos) return;
  vary = vary.empty() ? "Accept-Encoding" : vary + ", Accept-Encoding";
  res.remove_header("Vary");
  res.header("Vary", vary);
}

// The response with its body replaced by a stream that compresses it on the pool first.
Response compressed_on_pool(Response& res, Coding coding, const CompressionOptions& o) {
  auto body = std::make_shared<std::string>(std::move(res.body()));
  const std::string type(res.header_value("Content-Type"));
  Response out = Response::stream(
      type,
      [body, coding, o](BodyWriter& w) -> Task<void> {
        auto job = [body, coding, o] { return compress(*body, coding, o); };
        std::optional<std::string> packed = co_await offload(std::move(job));
        // The head (with Content-Encoding) is out already: a failure can only cut the body.
        if (!packed) throw std::runtime_error("weft.http compression: the encoder failed");
        co_await w.write(*packed);
      },
      res.status_code());
  for (const auto& [name, value] : res.headers()) {
    if (!chars::iequals(name, "Content-Type")) out.header(name, value);
  }
  return out;
}

// Encodes a streamed body piece by piece, each piece flushed (zlib's Z_SYNC_FLUSH,
// brotli's FLUSH operation) so the client can decode everything written so far at once;
// finish() ends the stream. Throws std::runtime_error when the library fails.
class StreamEncoder {
 public:
  StreamEncoder(Coding coding, const CompressionOptions& o) : coding_(coding) {
    if (coding == Coding::br) {
      br_ = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
      if (br_ == nullptr) fail();
      BrotliEncoderSetParameter(br_, BROTLI_PARAM_QUALITY,
                                static_cast<std::uint32_t>(o.brotli_quality));
      BrotliEncoderSetParameter(br_, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT);
    } else {
      const int bits = coding == Coding::gzip ? 15 + 16 : 15;
      if (deflateInit2(&z_, o.gzip_level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) fail();
      z_open_ = true;
    }
  }
  ~StreamEncoder() {
    if (br_ != nullptr) BrotliEncoderDestroyInstance(br_);
    if (z_open_) deflateEnd(&z_);
  }
  StreamEncoder(const StreamEncoder&) = delete;
  StreamEncoder& operator=(const StreamEncoder&) = delete;

  std::string write(std::string_view piece) {
    if (piece.empty()) return {};  // a flush without input would only add a marker
    return coding_ == Coding::br ? brotli(piece, BROTLI_OPERATION_FLUSH)
                                 : zlib(piece, Z_SYNC_FLUSH);
  }
  std::string finish() {
    return coding_ == Coding::br ? brotli({}, BROTLI_OPERATION_FINISH) : zlib({}, Z_FINISH);
  }

 private:
  [[noreturn]] static void fail() {
    throw std::runtime_error("weft.http compression: the streaming encoder failed");
  }

  std::string zlib(std::string_view in, int flush) {
    std::string out;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    for (;;) {  // until the flush or finish wrote everything (output space left over)
      const std::size_t used = out.size();
      out.resize(used + in.size() / 2 + 256);
      z_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
      z_.avail_out = static_cast<uInt>(out.size() - used);
      const int rc = deflate(&z_, flush);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) fail();
      out.resize(out.size() - z_.avail_out);
      if (z_.avail_out != 0 && (flush != Z_FINISH || rc == Z_STREAM_END)) return out;
    }
  }

  std::string brotli(std::string_view in, BrotliEncoderOperation op) {
    std::string out;
    std::size_t avail_in = in.size();
    const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
    std::size_t avail_out = 0;
    do {
      if (!BrotliEncoderCompressStream(br_, op, &avail_in, &next_in, &avail_out, nullptr,
                                       nullptr)) {
        fail();
      }
      std::size_t n = 0;
      const std::uint8_t* taken = BrotliEncoderTakeOutput(br_, &n);
      out.append(reinterpret_cast<const char*>(taken), n);
    } while (avail_in > 0 || BrotliEncoderHasMoreOutput(br_) ||
             (op == BROTLI_OPERATION_FINISH && !BrotliEncoderIsFinished(br_)));
    return out;
  }

  Coding coding_;
  z_stream z_{};
  bool z_open_ = false;
  BrotliEncoderState* br_ = nullptr;
};

// The streamed response with its producer wrapped: every piece it writes goes out
// compressed and flushed, then the encoder's end.
Response compressed_stream(Response& res, Coding coding, const CompressionOptions& o) {
  auto inner = std::make_shared<BodyProducer>(res.take_producer());
  const std::string type(res.header_value("Content-Type"));
  Response out = Response::stream(
      type,
      [inner, coding, o](BodyWriter& w) -> Task<void> {
        auto encoder = std::make_shared<StreamEncoder>(coding, o);  // the filter's, and ours
        w.set_filter([encoder](std::string_view piece) { return encoder->write(piece); });
        co_await (*inner)(w);
        w.set_filter({});
        co_await w.write(encoder->finish());
      },
      res.status_code());
  for (const auto& [name, value] : res.headers()) {
    if (!chars::iequals(name, "Content-Type")) out.header(name, value);
  }
  return out;
}

}  // namespace

Coding choose_coding(std::string_view accept, const CompressionOptions& o) {
  if (accept.empty()) return Coding::identity;
  Coding best = Coding::identity;
  double best_q = 0;
  auto consider = [&](bool enabled, Coding c) {
    if (!enabled) return;
    const double q = q_of(accept, coding_name(c));
    if (q > best_q) {  // ties keep the earlier (preferred) coding
      best_q = q;
      best = c;
    }
  };
  consider(o.brotli, Coding::br);
  consider(o.gzip, Coding::gzip);
  consider(o.deflate, Coding::deflate);
  return best;
}

std::optional<std::string> compress(std::string_view body, Coding coding,
                                    const CompressionOptions& o) {
  switch (coding) {
    case Coding::br:
      return brotli_compress(body, o.brotli_quality);
    case Coding::gzip:
      return zlib_compress(body, true, o.gzip_level);
    case Coding::deflate:
      return zlib_compress(body, false, o.gzip_level);
    case Coding::identity:
      break;
  }
  return std::string(body);
}

Middleware compression(CompressionOptions o) {
  Middleware m;
  m.after = [o](const Request& req, Response& res) {
    if (res.has_file() || !res.header_value("Content-Encoding").empty()) return;
    const int status = res.status_code();
    if (status < 200 || status == 204 || status == 206 || status == 304) return;
    if (!compressible(res.header_value("Content-Type"))) return;
    add_vary(res);
    if (!res.is_streamed() && res.body().size() < o.min_size) return;
    const Coding coding = choose_coding(req.header("Accept-Encoding"), o);
    if (coding == Coding::identity) return;
    if (res.is_streamed()) {
      res = compressed_stream(res, coding, o);
    } else if (res.body().size() > o.inline_max) {
      res = compressed_on_pool(res, coding, o);
    } else {
      std::optional<std::string> packed = compress(res.body(), coding, o);
      if (!packed) return;  // sent as it is
      res.set_body(std::move(*packed));
    }
    res.header("Content-Encoding", coding_name(coding));
  };
  return m;
}

}  // namespace weft::http
