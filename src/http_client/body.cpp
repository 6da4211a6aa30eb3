// Response bodies: reading them off the connection, decoding gzip/deflate (zlib), the
// size limit, and handing the connection back to the pool at the end.
#include <algorithm>

#include "http_client/internal.hpp"

namespace weft::http::detail {

namespace {
[[noreturn]] void too_large(std::uint64_t max) {
  throw FetchError(FetchErrc::too_large,
                   "response larger than max_response_size (" + std::to_string(max) + " bytes)");
}
[[noreturn]] void undecodable(const char* why) {
  throw FetchError(FetchErrc::decode, std::string("cannot decode the response body: ") + why);
}
}  // namespace

Inflater::Inflater(bool gzip) : gzip_(gzip) {}

Inflater::~Inflater() {
  if (begun_) inflateEnd(&z_);
}

void Inflater::start(int window_bits) {
  if (inflateInit2(&z_, window_bits) != Z_OK) undecodable("zlib init failed");
  begun_ = true;
}

// "deflate" is the zlib format (RFC 9110 §8.4.1.2), but some servers send raw deflate:
// the first two bytes tell which (a zlib header is a multiple of 31 with method 8).
void Inflater::feed(std::string_view in, std::string& out, std::uint64_t room) {
  if (!begun_) {
    const bool zlib_header = in.size() >= 2 && (static_cast<unsigned char>(in[0]) & 0x0f) == 8 &&
                             ((static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1])) % 31 == 0;
    start(gzip_ ? 15 + 16 : (zlib_header ? 15 : -15));
  }
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_.avail_in = static_cast<uInt>(in.size());
  while (z_.avail_in > 0 && !ended_) {
    const std::size_t at = out.size();
    const std::size_t step = 16 * 1024;
    out.resize(at + step);
    z_.next_out = reinterpret_cast<Bytef*>(out.data() + at);
    z_.avail_out = static_cast<uInt>(step);
    const int rc = inflate(&z_, Z_NO_FLUSH);
    out.resize(at + (step - z_.avail_out));
    if (rc == Z_STREAM_END) ended_ = true;
    else if (rc != Z_OK && rc != Z_BUF_ERROR) undecodable(z_.msg ? z_.msg : "corrupt data");
    if (out.size() > room) return;  // the caller reports too_large
    if (rc == Z_BUF_ERROR) break;
  }
}

BodyReader::BodyReader(std::shared_ptr<FetchContext> ctx, std::weak_ptr<ClientState> client,
                       std::unique_ptr<Conn> conn, std::string_view encoding)
    : ctx_(std::move(ctx)), client_(std::move(client)), conn_(std::move(conn)) {
  if (!ctx_->opts.decompress) return;
  auto is = [&](std::string_view name) {
    return encoding.size() == name.size() &&
           std::equal(encoding.begin(), encoding.end(), name.begin(),
                      [](char a, char b) { return (a | 0x20) == b; });
  };
  if (is("gzip") || is("x-gzip")) inflater_ = std::make_unique<Inflater>(true);
  if (is("deflate")) inflater_ = std::make_unique<Inflater>(false);
}

// A reader dropped before the end takes its connection with it: the rest of the body
// is still on the wire, so the connection cannot carry another request.
BodyReader::~BodyReader() {
  if (!conn_) return;
  if (auto client = client_.lock()) client->release(conn_->origin, nullptr);
}

void BodyReader::append_decoded(std::string_view piece, std::string& out) {
  const std::uint64_t max = ctx_->opts.max_response_size;
  const std::uint64_t room = max - std::min(max, delivered_);
  const std::size_t before = out.size();
  if (inflater_) {
    inflater_->feed(piece, out, room);
  } else {
    // One byte past the room is enough to report too_large (and room + 1 could wrap).
    const std::uint64_t take = room < piece.size() ? room + 1 : piece.size();
    out.append(piece.substr(0, static_cast<std::size_t>(take)));
  }
  delivered_ += out.size() - before;
  if (delivered_ > max) too_large(max);
}

void BodyReader::finish_message() {
  done_ = true;
  // An empty body (HEAD, 204, 304) carries Content-Encoding without any coded byte.
  if (inflater_ && inflater_->started() && !inflater_->finished())
    undecodable("the compressed stream ends early");
  const bool reusable = conn_->parser.head().keep_alive && conn_->buf.empty() && !conn_->no_reuse;
  std::unique_ptr<Conn> conn = std::move(conn_);
  const std::string origin = conn->origin;
  if (auto client = client_.lock()) client->release(origin, reusable ? std::move(conn) : nullptr);
}

BodyReader::Step BodyReader::step(std::string& out) {
  Conn& c = *conn_;
  const ParseResult r = eof_ ? c.parser.finish(c.buf) : c.parser.parse(c.buf);
  switch (r.status) {
    case ParseStatus::body_data:
      append_decoded(r.body, out);
      c.buf.erase(0, r.consumed);
      return out.empty() ? Step::parse_again : Step::deliver;
    case ParseStatus::message_complete:
      c.buf.erase(0, r.consumed);
      finish_message();
      return Step::deliver;
    case ParseStatus::error:
      if (r.error == ParseErrc::incomplete_response) {
        throw FetchError(FetchErrc::truncated, "connection to " + c.where +
                                                   " closed before the response body was complete (" +
                                                   std::to_string(c.parser.body_received()) + " bytes received)");
      }
      throw FetchError(FetchErrc::malformed, "malformed response body from " + c.where + ": " +
                                                 std::string(describe(r.error)));
    default:
      c.buf.erase(0, r.consumed);
      return Step::read;
  }
}

void BodyReader::settle_if_empty() {
  std::string none;
  if (conn_->parser.head().framing == ResponseFraming::none) step(none);
}

Task<std::string> BodyReader::next() {
  std::string out;
  while (!done_) {
    const Step next = step(out);
    if (next == Step::deliver) break;
    if (next == Step::parse_again || eof_) continue;
    Conn& c = *conn_;
    CancelToken token = ctx_->arm(ctx_->opts.timeouts.idle, "idle");
    std::size_t n = 0;
    std::error_code ec;
    try {
      n = co_await c.stream->read_some(c.read_space(), token);
    } catch (const std::system_error& e) {
      ec = e.code();
    }
    ctx_->disarm();
    c.buf.append(c.scratch.get(), n);
    if (ec) ctx_->fail(ec, "reading the response body", c.where);
    if (n == 0) eof_ = true;
  }
  co_return out;
}

}  // namespace weft::http::detail
