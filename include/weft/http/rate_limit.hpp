// http::rate_limit({per_ip, burst}): a token bucket per client address.
//
//   app.use("/api", weft::http::rate_limit({.per_ip = 10, .burst = 20}));  // 10/s, bursts of 20
//
// Each client IP (the connection's peer; all Unix-socket clients share one bucket) has
// `burst` tokens, refilled at `per_ip` per second; a request takes one. Without a token
// the request is answered 429 with Retry-After (whole seconds until a token is back),
// shaped by Server::on_error like any error. Memory is bounded: at most `max_clients`
// buckets; when full, buckets that have refilled completely (indistinguishable from new
// ones) are dropped first, then the least recently used. Safe with ServerOptions::workers
// > 1 (one lock, held for a lookup). Synchronous: no coroutine.
#pragma once

#include <weft/http/middleware.hpp>

#include <cstddef>

namespace weft::http {

struct RateLimitOptions {
  double per_ip = 10;                // tokens added per second, per client address (> 0)
  double burst = 20;                 // bucket size: requests a quiet client may send at once (>= 1)
  std::size_t max_clients = 100000;  // buckets kept (about 100 bytes each)
};

// Throws std::invalid_argument for per_ip <= 0, burst < 1 or max_clients == 0.
Middleware rate_limit(RateLimitOptions options);

}  // namespace weft::http
