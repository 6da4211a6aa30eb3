// ws::App: an http::Server that also serves WebSocket routes and pub/sub (ws/websocket.hpp
// has the connection's contract).
//
// ws(pattern, behavior) adds a GET route (same patterns as http::Router) whose requests
// are WebSocket handshakes: a request that is not one gets 400 (426 for another version).
// publish(topic, message) builds the frame once and queues it on every subscriber of every
// loop of the server (ServerOptions::workers): on the calling loop at once, on the others
// through Loop::post (the frame is shared, not copied). It may be called from any thread.
// Like routes, ws() is called before listen(); publish() from another thread must not race
// with the server's close() (an extra loop may be ending).
#pragma once

#include <weft/http/server.hpp>
#include <weft/ws/websocket.hpp>

#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace weft::ws {

struct WsStats {
  std::size_t open = 0;       // connections open now, all loops
  std::uint64_t opened = 0;   // handshakes completed
  std::uint64_t dropped = 0;  // messages dropped by the drop policy (send and publish)
};

class App : public http::Server {
 public:
  explicit App(Loop& loop, http::ServerOptions options = {});
  ~App();

  App& ws(std::string_view pattern, Behavior behavior);
  // Returns how many subscribers the frame was queued for on the calling loop (the other
  // loops' deliveries are posted and not counted).
  std::size_t publish(std::string_view topic, std::string_view message, Opcode op = Opcode::text);
  WsStats ws_stats() const;

 private:
  std::shared_ptr<detail::Hub> hub_for(Loop& loop);

  mutable std::mutex hubs_mutex_;
  std::vector<std::shared_ptr<detail::Hub>> hubs_;  // one per loop that served a ws route
  Duration sweep_ = std::chrono::seconds(1);        // the routes' shortest sweep interval
};

}  // namespace weft::ws
