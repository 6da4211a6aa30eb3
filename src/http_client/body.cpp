// Response bodies: reading them off the connection, decoding (decode.cpp), the
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

BodyReader::BodyReader(std::shared_ptr<FetchContext> ctx, std::weak_ptr<ClientState> client,
                       std::unique_ptr<Conn> conn, std::string_view encoding)
    : ctx_(std::move(ctx)), client_(std::move(client)), conn_(std::move(conn)) {
  if (ctx_->opts.decompress) inflater_ = make_decoder(encoding);
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
  if (auto client = client_.lock()) {
    if (conn->tls && !conn->session_kept) client->keep_session(origin, *conn);
    client->release(origin, reusable ? std::move(conn) : nullptr);
  }
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
        throw FetchError(FetchErrc::truncated,
                         "connection to " + c.where +
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
