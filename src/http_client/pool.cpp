// The connection pool: per origin, idle connections for reuse and a bound on connections.
#include <algorithm>

#include "http_client/internal.hpp"

namespace weft::http::detail {

SlotWaiter::SlotWaiter(ClientState& state, std::string origin, CancelToken token)
    : state_(state), origin_(std::move(origin)), token_(std::move(token)) {}

SlotWaiter::~SlotWaiter() {
  if (!queued_) return;
  auto& w = state_.origins[origin_].waiters;
  w.erase(std::remove(w.begin(), w.end(), this), w.end());
}

void SlotWaiter::await_suspend(std::coroutine_handle<> h) {
  h_ = h;
  queued_ = true;
  state_.origins[origin_].waiters.push_back(this);
  reg_.attach(token_, [this] { wake(); });  // cancelled: resume; the caller checks why
}

// Leaves the queue and resumes the waiter in the pending phase (never inside release()).
void SlotWaiter::wake() {
  if (queued_) {
    auto& w = state_.origins[origin_].waiters;
    w.erase(std::remove(w.begin(), w.end(), this), w.end());
    queued_ = false;
  }
  reg_.detach();
  if (h_) resume_.schedule(state_.loop, std::exchange(h_, nullptr));
}

std::unique_ptr<Conn> ClientState::take_idle(Origin& o) {
  const TimePoint now = loop.now();
  while (!o.idle.empty()) {
    std::unique_ptr<Conn> c = std::move(o.idle.back());
    o.idle.pop_back();
    // Too old, or the server closed it as far as the stream saw: drop it. (An idle
    // stream is not read, so a close usually shows only on the next request: the stale
    // retry covers that.)
    const bool fresh = now - c->idle_since < options.idle_timeout && !c->stream->read_ended() &&
                       !c->stream->error();
    if (fresh) return c;
  }
  return nullptr;
}

Task<std::unique_ptr<Conn>> ClientState::acquire(FetchContext& ctx, const std::string& key) {
  auto self = shared_from_this();
  for (;;) {
    Origin& o = origins[key];
    if (std::unique_ptr<Conn> c = take_idle(o)) {
      ++o.busy;
      c->reused = true;
      co_return c;
    }
    if (o.busy < options.max_connections_per_origin) {
      ++o.busy;
      co_return nullptr;
    }
    SlotWaiter waiter(*this, key, ctx.arm(Duration::zero(), "total"));
    co_await waiter;
    ctx.disarm();
    ctx.check_alive();
  }
}

void ClientState::release(const std::string& key, std::unique_ptr<Conn> conn) {
  Origin& o = origins[key];
  if (o.busy > 0) --o.busy;
  if (conn && o.idle.size() < options.max_idle_per_origin) {
    conn->idle_since = loop.now();
    conn->stream->read_stop();
    o.idle.push_back(std::move(conn));
    arm_sweeper();
  }
  if (!o.waiters.empty()) o.waiters.front()->wake();
}

void ClientState::arm_sweeper() {
  if (sweeper.is_active() || options.idle_timeout <= Duration::zero()) return;
  sweeper.start([this] { sweep(); }, options.idle_timeout);
}

void ClientState::sweep() {
  const TimePoint now = loop.now();
  bool any = false;
  for (auto& [key, o] : origins) {
    std::erase_if(o.idle, [&](const std::unique_ptr<Conn>& c) {
      return now - c->idle_since >= options.idle_timeout;
    });
    any |= !o.idle.empty();
  }
  if (any) arm_sweeper();
}

}  // namespace weft::http::detail
