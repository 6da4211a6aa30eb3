#include "feed_routes.hpp"

#include "rest.hpp"
#include "store.hpp"
#include "uri.hpp"

#include <weft/http/body_writer.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <coroutine>
#include <map>

namespace weft::serve {
namespace {

using json = nlohmann::json;
using http::Request;
using http::Response;

// A cursor: a non-negative decimal integer; nullopt when absent; throws on anything else.
std::optional<std::int64_t> parse_cursor(std::string_view text, const char* what) {
  if (text.empty()) return std::nullopt;
  std::int64_t n = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 0) {
    throw std::invalid_argument(std::string(what) +
                                " must be a change id (a non-negative integer), not " +
                                quote_name(text));
  }
  return n;
}

// ---- SSE -------------------------------------------------------------------------------------

// One event stream. The hub appends to `out_`; the producer coroutine (Response::stream)
// waits for text, the end, or the heartbeat. Wake-ups go through a microtask, so that a
// batch of changes becomes one write.
class SseStream final : public Subscription, public std::enable_shared_from_this<SseStream> {
 public:
  SseStream(Loop& loop, std::string collection, Duration heartbeat)
      : Subscription(std::move(collection)), loop_(loop), heartbeat_(heartbeat), timer_(loop) {}

  void deliver(const Change& c) override {
    out_ += "id: " + std::to_string(c.id) + "\ndata: " + c.json + "\n\n";
    wake();
  }
  void reload(std::int64_t resume_after) override {
    out_ += "id: " + std::to_string(resume_after) +
            "\nevent: reload\ndata: " + reload_json(resume_after, collection()) + "\n\n";
    wake();
  }
  void end() override {
    ended_ = true;
    wake();
  }
  std::size_t queued_bytes() const noexcept override { return out_.size(); }

  // What to write next: the queued events, a heartbeat comment, or "" once ended.
  struct Next {
    SseStream& s;
    bool await_ready() const noexcept { return !s.out_.empty() || s.ended_; }
    void await_suspend(std::coroutine_handle<> h) {
      s.waiter_ = h;
      s.timer_.start([&s = s] { s.resume(); }, s.heartbeat_);
    }
    std::string await_resume() {
      if (s.ended_) return "";
      if (s.out_.empty()) return ": hb\n\n";
      return std::exchange(s.out_, {});
    }
  };
  Next next() { return Next{*this}; }
  // The producer's frame is going: never resume it.
  void forget() noexcept {
    waiter_ = {};
    timer_.stop();
  }

 private:
  void wake() {
    if (!waiter_ || wake_queued_) return;
    wake_queued_ = true;
    loop_.queue_microtask([weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->wake_queued_ = false;
        self->resume();
      }
    });
  }
  void resume() {
    timer_.stop();
    if (auto h = std::exchange(waiter_, {})) h.resume();
  }

  Loop& loop_;
  Duration heartbeat_;
  Timer timer_;
  std::string out_;
  std::coroutine_handle<> waiter_;
  bool ended_ = false;
  bool wake_queued_ = false;
};

// Leaves the hub however the producer ends (finished, client gone, frame destroyed).
struct Leave {
  std::shared_ptr<FeedHub> hub;
  std::shared_ptr<SseStream> stream;
  ~Leave() {
    stream->forget();
    hub->remove(stream.get());
  }
};

Task<void> produce(std::shared_ptr<FeedHub> hub, std::shared_ptr<SseStream> stream,
                   std::optional<std::int64_t> since, http::BodyWriter& w) {
  Leave leave{hub, stream};
  co_await w.write("retry: 1000\n\n");
  hub->add(stream, since);
  for (;;) {
    std::string piece = co_await stream->next();
    if (piece.empty()) co_return;
    co_await w.write(piece);
  }
}

Response sse(const std::shared_ptr<FeedHub>& hub, const ServeOptions& options, Request& req) {
  std::string collection = decode_segment(req.raw_param("collection")).value_or("");
  if (!valid_collection_name(collection)) {
    return error_response(400,
                          "invalid collection name " + quote_name(req.raw_param("collection")));
  }
  std::optional<std::int64_t> since;
  try {
    since = parse_cursor(req.header("Last-Event-ID"), "Last-Event-ID");
    if (!since) since = parse_cursor(req.query("since").value_or(""), "since");
  } catch (const std::invalid_argument& e) {
    return error_response(400, e.what());
  }
  auto stream = std::make_shared<SseStream>(hub->loop(), std::move(collection),
                                            std::chrono::milliseconds(options.feed_heartbeat_ms));
  Response res = Response::stream("text/event-stream", [hub, stream, since](http::BodyWriter& w) {
    return produce(hub, stream, since, w);
  });
  res.header("Cache-Control", "no-cache").header("X-Accel-Buffering", "no");
  return res;
}

// ---- WebSocket -------------------------------------------------------------------------------

class WsSubscription final : public Subscription {
 public:
  WsSubscription(ws::WebSocket& socket, std::string collection)
      : Subscription(std::move(collection)), socket_(&socket) {}
  void deliver(const Change& c) override {
    if (socket_) socket_->send(c.json);
  }
  void reload(std::int64_t resume_after) override {
    if (socket_) socket_->send(reload_json(resume_after, collection()));
  }
  void started(std::int64_t after) override {
    if (socket_) socket_->send(json{{"subscribed", collection()}, {"id", after}}.dump());
  }
  void end() override {
    if (socket_) socket_->close(ws::close_code::going_away, "change feed ended; resume with since");
  }
  std::size_t queued_bytes() const noexcept override {
    return socket_ ? socket_->buffered_amount() : 0;
  }
  void forget() noexcept { socket_ = nullptr; }

 private:
  ws::WebSocket* socket_;  // null once the connection is gone
};

// A connection's subscriptions by collection (its WebSocket::user()).
struct WsClient {
  std::map<std::string, std::shared_ptr<WsSubscription>> subs;
};

std::string reply(const char* key, const std::string& value) { return json{{key, value}}.dump(); }

void on_message(FeedHub& hub, ws::WebSocket& socket, std::string_view text) {
  auto& client = std::any_cast<std::shared_ptr<WsClient>&>(socket.user());
  json msg = json::parse(text, nullptr, false);
  if (msg.is_discarded() || !msg.is_object()) {
    socket.send(reply("error",
                      "send a JSON object: {\"subscribe\":\"posts\",\"since\":0} or "
                      "{\"unsubscribe\":\"posts\"}"));
    return;
  }
  const bool subscribing = msg.contains("subscribe");
  const json& name = subscribing ? msg["subscribe"] : msg.value("unsubscribe", json());
  if (!name.is_string() || !valid_collection_name(name.get_ref<const std::string&>())) {
    socket.send(reply("error",
                      "subscribe/unsubscribe needs a collection name (letters, digits, '_', '-')"));
    return;
  }
  const std::string& collection = name.get_ref<const std::string&>();
  if (!subscribing) {
    if (auto it = client->subs.find(collection); it != client->subs.end()) {
      it->second->forget();
      hub.remove(it->second.get());
      client->subs.erase(it);
    }
    socket.send(reply("unsubscribed", collection));
    return;
  }
  std::optional<std::int64_t> since;
  if (msg.contains("since")) {
    const json& s = msg["since"];
    if (!s.is_number_integer() || s.get<std::int64_t>() < 0) {
      socket.send(reply("error", "since must be a change id (a non-negative integer)"));
      return;
    }
    since = s.get<std::int64_t>();
  }
  if (client->subs.contains(collection)) {
    socket.send(reply("error", "already subscribed to " + collection));
    return;
  }
  auto sub = std::make_shared<WsSubscription>(socket, collection);
  client->subs.emplace(collection, sub);
  hub.add(std::move(sub), since);  // {"subscribed":...,"id":N} once its start is known
}

void leave_all(FeedHub& hub, ws::WebSocket& socket) {
  auto* client = std::any_cast<std::shared_ptr<WsClient>>(&socket.user());
  if (!client || !*client) return;
  for (auto& [name, sub] : (*client)->subs) {
    sub->forget();
    hub.remove(sub.get());
  }
  (*client)->subs.clear();
}

ws::Behavior ws_behavior(const std::shared_ptr<FeedHub>& hub, const ServeOptions& options) {
  ws::Options o;
  o.max_message_size = 4096;  // subscription requests are small
  o.max_backpressure = options.feed_max_buffer;
  o.backpressure_policy = ws::BackpressurePolicy::close;  // never drop a change silently
  return ws::Behavior{
      .upgrade = [](Request&) -> std::any { return std::make_shared<WsClient>(); },
      .open = {},
      .message = [hub](ws::WebSocket& s, std::string_view m,
                       ws::Opcode) { on_message(*hub, s, m); },
      .close = [hub](ws::WebSocket& s, std::uint16_t, std::string_view) { leave_all(*hub, s); },
      .drain = {},
      .ping = {},
      .pong = {},
      .options = std::move(o),
  };
}

}  // namespace

void mount_feed(ws::App& app, const std::shared_ptr<FeedHub>& hub, const ServeOptions& options) {
  app.ws("/api/_ws", ws_behavior(hub, options));
  app.get("/api/:collection/_changes",
          [hub, &options](Request& req) { return sse(hub, options, req); });
}

}  // namespace weft::serve
