// http::rate_limit: token buckets per client IP, bounded (rate_limit.hpp).
#include <weft/http/rate_limit.hpp>

#include <weft/http/http_error.hpp>

#include <chrono>
#include <cmath>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace weft::http {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

class Buckets {
 public:
  explicit Buckets(RateLimitOptions o) : o_(o) {}

  // Takes a token for `client`; 0 when taken, else the seconds until one is back.
  long take(const std::string& client, SteadyTime now) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(client);
    if (it == index_.end()) {
      make_room(now);
      lru_.push_front({client, o_.burst, now});
      it = index_.emplace(lru_.front().client, lru_.begin()).first;
    } else {
      lru_.splice(lru_.begin(), lru_, it->second);
    }
    Bucket& b = *it->second;
    refill(b, now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return std::max(1L, static_cast<long>(std::ceil((1 - b.tokens) / o_.per_ip)));
  }

 private:
  struct Bucket {
    std::string client;
    double tokens;
    SteadyTime at;  // when tokens was computed
  };

  void refill(Bucket& b, SteadyTime now) const {
    const double seconds = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(o_.burst, b.tokens + seconds * o_.per_ip);
    b.at = now;
  }

  // Full: drop the buckets that are full again (from the least recently used end, up to
  // a batch), else the least recently used one.
  void make_room(SteadyTime now) {
    if (lru_.size() < o_.max_clients) return;
    std::size_t dropped = 0;
    for (auto it = lru_.end(); it != lru_.begin() && dropped < 64;) {
      --it;
      refill(*it, now);
      if (it->tokens < o_.burst) break;  // more recent ones were used even later
      index_.erase(it->client);
      it = lru_.erase(it);
      ++dropped;
    }
    if (dropped == 0) {
      index_.erase(lru_.back().client);
      lru_.pop_back();
    }
  }

  const RateLimitOptions o_;
  std::mutex mutex_;
  std::list<Bucket> lru_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Bucket>::iterator> index_;
};

std::string client_of(const Request& req) {
  const net::SocketAddress* peer = req.peer();
  return peer && !peer->is_unix() ? peer->ip() : std::string("unix");
}

}  // namespace

Middleware rate_limit(RateLimitOptions options) {
  if (!(options.per_ip > 0) || !(options.burst >= 1) || options.max_clients == 0) {
    throw std::invalid_argument("weft::http::rate_limit: per_ip > 0, burst >= 1, max_clients > 0");
  }
  auto buckets = std::make_shared<Buckets>(options);
  Middleware m;
  m.before = [buckets](Request& req) -> std::optional<Response> {
    const long wait = buckets->take(client_of(req), std::chrono::steady_clock::now());
    if (wait == 0) return std::nullopt;
    throw HttpError(429, "too many requests").with_header("Retry-After", std::to_string(wait));
  };
  return m;
}

}  // namespace weft::http
