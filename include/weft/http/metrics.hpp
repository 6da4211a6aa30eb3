// HTTP server measurements: requests by method and status class, requests in flight,
// connections, bytes in and out, and a request-duration histogram.
//
// Definitions:
//  * a request is counted (by method) when its head has been parsed;
//  * a response is counted (by status class) when its head is handed to the socket; the
//    duration is from the iteration in which the request head arrived to that moment (for
//    a streamed body, up to its head: a server-sent-event stream is not "in flight");
//  * in flight: requests counted and not yet answered or dropped;
//  * bytes in: request bytes the parser consumed; bytes out: response bytes handed to the
//    socket (heads, bodies, file ranges).
// Malformed requests rejected before their head was complete are answered (and counted
// by status) without a method or duration.
//
// Recording happens on the server's loop thread with relaxed atomics (one writer), so a
// snapshot may be taken from any thread; snapshots of several servers or loops merge.
#pragma once

#include <weft/histogram.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace weft::http {

enum class MethodKind : unsigned char { get, head, post, put, patch, del, options, other };
inline constexpr std::size_t kMethodKinds = 8;
MethodKind method_kind(std::string_view method) noexcept;
const char* to_string(MethodKind) noexcept;  // "GET", ..., "other"

struct HttpMetricsSnapshot {
  std::array<std::uint64_t, kMethodKinds> requests{};  // by MethodKind
  std::array<std::uint64_t, 5> responses{};            // by status class: [0] = 1xx .. [4] = 5xx
  std::uint64_t in_flight = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t open_connections = 0;  // filled by Server::metrics()
  // Connections a 101 handed to another protocol (WebSocket): open now, and ever. Filled by
  // Server::metrics(); an upgraded connection is also in open_connections.
  std::uint64_t upgraded_open = 0;
  std::uint64_t upgrades = 0;
  // Filled by Server::metrics(): connections refused over max_connections (answered 503 or
  // closed), and connections the listener shed because descriptors ran out (EMFILE/ENFILE).
  std::uint64_t connections_rejected = 0;
  std::uint64_t connections_shed = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  HistogramSnapshot duration;  // ns

  std::uint64_t total_requests() const noexcept;
  void merge(const HttpMetricsSnapshot& o) noexcept;
};

namespace detail {

// One per server (per loop): written on its loop thread only.
class HttpRecorder {
 public:
  void request_started(std::string_view method) noexcept {
    bump(requests_[static_cast<std::size_t>(method_kind(method))], 1);
    bump(started_, 1);
  }
  void request_dropped() noexcept { bump(finished_, 1); }
  // status: the response's; started_ns > 0 when the request was counted as started.
  void response_written(int status, std::int64_t started_ns, std::int64_t now_ns) noexcept;
  void bytes_in(std::uint64_t n) noexcept { bump(bytes_in_, n); }
  void bytes_out(std::uint64_t n) noexcept { bump(bytes_out_, n); }
  void connection_accepted() noexcept { bump(accepted_, 1); }
  HttpMetricsSnapshot snapshot() const noexcept;

 private:
  static void bump(std::atomic<std::uint64_t>& a, std::uint64_t by) noexcept {
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  std::array<std::atomic<std::uint64_t>, kMethodKinds> requests_{};
  std::array<std::atomic<std::uint64_t>, 5> responses_{};
  std::atomic<std::uint64_t> started_{0};
  std::atomic<std::uint64_t> finished_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> bytes_in_{0};
  std::atomic<std::uint64_t> bytes_out_{0};
  Histogram duration_;
};

}  // namespace detail
}  // namespace weft::http
