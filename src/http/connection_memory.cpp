// What a connection holds between requests, and what it borrows from its loop while it
// reads and answers: the parse state (parser and inline request) and the output storage.
// An idle keep-alive connection holds neither (docs/ARCHITECTURE.md, "Memory per
// connection").
#include "http/server_impl.hpp"

namespace weft::http {

using detail::RequestAccess;

// The parse state is the loop's while no request is in progress: borrowed for each read
// and handed back when the read ends between two requests (the views of an inline request
// are dead by then: it was answered, or copied into an exchange).
std::size_t Connection::on_data(std::span<char> data) {
  if (upgraded_) return upgraded_->on_data(data);
  take_parse_state();
  std::size_t used = parse_input(data);
  give_back_parse_state();
  // Bytes that came with the upgrade request belong to the new protocol.
  if (upgraded_ && used < data.size()) used += upgraded_->on_data(data.subspan(used));
  return used;
}

void Connection::take_parse_state() {
  if (parse_) return;
  if (server_.spare_parse) {
    parse_ = std::move(server_.spare_parse);
    parse_->parser.reset();
  } else {
    parse_ = std::make_unique<ParseState>(server_.options.limits);
  }
  RequestAccess::set_peer(parse_->request, peer_);
}

void Connection::give_back_parse_state() {
  if (!parse_ || cur_ || !parse_->parser.between_messages()) return;
  RequestAccess::release_storage(parse_->request);
  RequestAccess::set_peer(parse_->request, nullptr);
  if (!server_.spare_parse) server_.spare_parse = std::move(parse_);
  parse_.reset();
}

// Responses are gathered in a string whose storage the loop's connections pass around:
// a connection borrows it for the responses of one read and hands it back once they were
// written (copied by the stream when the socket does not take them at once), so an idle
// connection holds no output buffer and a busy loop allocates none per request.
std::string& Connection::borrow_out() {
  if (out_.empty() && server_.spare_out.capacity() > out_.capacity()) out_.swap(server_.spare_out);
  return out_;
}

void Connection::release_out() noexcept {
  constexpr std::size_t kMaxSpare = 64 * 1024;  // a huge response's storage is freed
  if (!out_.empty()) return;
  if (out_.capacity() > server_.spare_out.capacity() && out_.capacity() <= kMaxSpare) {
    out_.swap(server_.spare_out);
  }
  std::string().swap(out_);
}

}  // namespace weft::http
