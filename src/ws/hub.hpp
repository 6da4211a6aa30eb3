// One loop's share of a ws::App: its WebSocket connections, their topics, and the sweep
// timer for idle and close timeouts. Everything here belongs to `loop`'s thread, except
// the counters (read by App::ws_stats from any thread).
#pragma once

#include "ws/slab.hpp"

#include <weft/timer.hpp>
#include <weft/ws/deflate.hpp>
#include <weft/ws/websocket.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace weft::ws::detail {

// A ws() route: what its connections share.
struct Route {
  Behavior behavior;
  std::vector<std::string> param_names;  // the pattern's ":name" segments
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>()(s);
  }
};

class Hub {
 public:
  Hub(Loop& loop, Duration sweep_interval) : loop_(loop), interval_(sweep_interval) {}
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  Loop& loop() const noexcept { return loop_; }
  // Where this loop's WebSocket objects live (ws/slab.hpp).
  const std::shared_ptr<SlotPool>& sockets_pool() const noexcept { return pool_; }
  void add(WebSocket* s);
  void remove(WebSocket* s);  // also unsubscribes it everywhere
  bool subscribe(WebSocket* s, std::string_view topic);
  bool unsubscribe(WebSocket* s, std::string_view topic);
  // Queues the frame (an uncompressed frame of kind op) on every subscriber of topic, or
  // its compressed form for those that negotiated permessage-deflate (compressed here once
  // per window size); returns how many took it.
  std::size_t deliver(std::string_view topic, Opcode op,
                      const std::shared_ptr<const std::string>& frame);
  // A whole compressed frame for message (RSV1 set), with the loop's compressor for
  // window_bits (reset after each message: server_no_context_takeover).
  void compressed_frame(std::string& out, Opcode op, std::string_view message, int window_bits,
                        int level);
  // A cleared buffer for one outgoing frame (WebSocket::send), handed back after the write:
  // a send never allocates once it has grown, and a huge frame's storage is freed.
  std::string& frame_buffer() noexcept {
    frame_.clear();
    return frame_;
  }
  void release_frame_buffer() noexcept {
    if (frame_.capacity() > 64 * 1024) std::string().swap(frame_);
  }
  // Where a compressed message is inflated for the message callback (one at a time).
  std::string& inflate_buffer() noexcept { return inflated_; }
  void release_inflate_buffer() noexcept {
    if (inflated_.capacity() > 64 * 1024) std::string().swap(inflated_);
  }

  std::atomic<std::size_t> open{0};
  std::atomic<std::uint64_t> opened{0};
  std::atomic<std::uint64_t> dropped{0};

 private:
  void sweep();

  Loop& loop_;
  Duration interval_;
  WebSocket* sockets_ = nullptr;  // intrusive list (WebSocket::hub_prev/next)
  std::unordered_map<std::string, std::vector<WebSocket*>, StringHash, std::equal_to<>> topics_;
  std::unique_ptr<Deflater> deflaters_[16];  // by window bits, made on first use
  std::string scratch_;
  std::string frame_;     // frame_buffer()
  std::string inflated_;  // inflate_buffer()
  // Only while connections exist: a hub without any holds no loop handle.
  std::unique_ptr<Timer> sweep_timer_;
  std::shared_ptr<SlotPool> pool_ = std::make_shared<SlotPool>();
};

// The handshake's answer: base64(SHA-1(key + the RFC 6455 GUID)).
std::string accept_key(std::string_view key);
// Whether the request is a well-formed version-13 handshake; throws http::HttpError (400,
// or 426 for another version) otherwise.
void check_handshake(const http::Request& req);
// The subprotocol to answer with: the first the client offers that `allowed` has (any
// when it is empty); empty when none.
std::string choose_protocol(std::string_view offered, const std::vector<std::string>& allowed);

}  // namespace weft::ws::detail
