// A connection after a 101: the transport lent to the upgraded protocol (http/upgrade.hpp).
#include "http/server_impl.hpp"

namespace weft::http {

// The 101 head is queued, HTTP parsing stops for good (the caller's loop sees upgraded_),
// no HTTP deadline applies any more, and the protocol starts.
bool Connection::take_over(Request& req, Response& res) {
  if (res.status_code() != 101) return false;  // declined: an ordinary response
  if (server_.closing) {
    res = server_error(req, 503, "Server is closing");
    return false;
  }
  upgraded_ = res.upgraded();
  ++server_.stats.upgraded_open;  // until ~Connection
  ++server_.stats.upgrades;
  stop_parsing_ = false;  // the HTTP exchange is over; the protocol decides when to close
  write_head(res, false, req.version_minor(), false);
  note_response(101, inline_started_ns_);
  set_deadline(Deadline::none, {});
  flush_out();
  upgraded_->on_open(*this);
  return true;
}

bool Connection::write(std::string_view bytes) {
  if (closed_) return false;
  note_bytes_out(bytes.size());
  return stream_.write(bytes);
}

bool Connection::write_shared(std::shared_ptr<const std::string> bytes) {
  if (closed_) return false;
  note_bytes_out(bytes->size());
  const std::string_view view(*bytes);
  return stream_.write_borrowed(view, [keep = std::move(bytes)](std::error_code) {});
}

std::size_t Connection::queued_bytes() const noexcept { return stream_.queued_bytes(); }

void Connection::set_high_water_mark(std::size_t bytes) noexcept {
  stream_.set_high_water_mark(bytes);
}

void Connection::pause_input() { stream_.read_stop(); }

void Connection::resume_input() {
  if (!closed_) (void)stream_.read_start();
}

void Connection::shutdown() {
  if (!closed_) stream_.shutdown([](std::error_code) {});  // a failure ends in on_error
}

void Connection::close() { close_now(); }

Loop& Connection::loop() const noexcept { return server_.loop; }

}  // namespace weft::http
