// A loop's WebSocket connections and topics (ws/hub.hpp).
#include "ws/hub.hpp"

#include <algorithm>

namespace weft::ws::detail {

Hub::~Hub() = default;

void Hub::add(WebSocket* s) {
  s->hub_prev = nullptr;
  s->hub_next = sockets_;
  if (sockets_) sockets_->hub_prev = s;
  sockets_ = s;
  open.fetch_add(1, std::memory_order_relaxed);
  opened.fetch_add(1, std::memory_order_relaxed);
  if (!sweep_timer_) {
    sweep_timer_ = std::make_unique<Timer>(loop_);
    sweep_timer_->start([this] { sweep(); }, interval_, interval_);
  }
}

void Hub::remove(WebSocket* s) {
  for (const std::string& topic : s->topics()) unsubscribe(s, topic);
  (s->hub_prev ? s->hub_prev->hub_next : sockets_) = s->hub_next;
  if (s->hub_next) s->hub_next->hub_prev = s->hub_prev;
  s->hub_prev = s->hub_next = nullptr;
  open.fetch_sub(1, std::memory_order_relaxed);
  if (!sockets_) sweep_timer_.reset();
}

bool Hub::subscribe(WebSocket* s, std::string_view topic) {
  auto it = topics_.find(topic);
  if (it == topics_.end())
    it = topics_.emplace(std::string(topic), std::vector<WebSocket*>{}).first;
  it->second.push_back(s);
  return true;
}

bool Hub::unsubscribe(WebSocket* s, std::string_view topic) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) return false;
  auto& subs = it->second;
  auto pos = std::find(subs.begin(), subs.end(), s);
  if (pos == subs.end()) return false;
  *pos = subs.back();
  subs.pop_back();
  if (subs.empty()) topics_.erase(it);
  return true;
}

// Subscribers are only removed when their connection is gone (the close phase), never
// inside send_frame, so the list is stable while it is walked.
std::size_t Hub::deliver(std::string_view topic, Opcode op,
                         const std::shared_ptr<const std::string>& frame) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) return 0;
  const std::size_t size = frame->size() - frame_header_size(frame->size(), false);
  const std::string_view message = std::string_view(*frame).substr(frame->size() - size);
  std::shared_ptr<const std::string> compressed[16];
  std::size_t taken = 0;
  for (WebSocket* s : it->second) {
    const int bits = s->deflate_window_bits();
    const CompressionOptions& c = s->compression();
    const bool compress = bits && message.size() >= c.min_size;
    if (compress && !compressed[bits]) {
      auto f = std::make_shared<std::string>();
      compressed_frame(*f, op, message, bits, c.level);
      compressed[bits] = std::move(f);
    }
    const SendResult r = s->send_frame(compress ? compressed[bits] : frame);
    if (r.status == SendStatus::sent) ++taken;
    if (r.status == SendStatus::dropped) dropped.fetch_add(1, std::memory_order_relaxed);
  }
  return taken;
}

void Hub::compressed_frame(std::string& out, Opcode op, std::string_view message, int window_bits,
                           int level) {
  auto& d = deflaters_[window_bits];
  if (!d) d = std::make_unique<Deflater>(window_bits, level);
  scratch_.clear();
  d->compress(message, scratch_);
  encode_frame(out, op, scratch_, FrameFlags{.fin = true, .rsv1 = true});
  if (scratch_.capacity() > 256 * 1024) std::string().swap(scratch_);
}

void Hub::sweep() {
  const TimePoint now = loop_.now();
  for (WebSocket* s = sockets_; s;) {
    WebSocket* next = s->hub_next;  // closing never unlinks synchronously; be safe anyway
    s->check_timers(now);
    s = next;
  }
}

}  // namespace weft::ws::detail
