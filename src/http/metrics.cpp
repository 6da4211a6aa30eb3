#include <weft/http/metrics.hpp>

namespace weft::http {

MethodKind method_kind(std::string_view m) noexcept {
  if (m == "GET") return MethodKind::get;
  if (m == "HEAD") return MethodKind::head;
  if (m == "POST") return MethodKind::post;
  if (m == "PUT") return MethodKind::put;
  if (m == "PATCH") return MethodKind::patch;
  if (m == "DELETE") return MethodKind::del;
  if (m == "OPTIONS") return MethodKind::options;
  return MethodKind::other;
}

const char* to_string(MethodKind k) noexcept {
  static constexpr const char* names[kMethodKinds] = {"GET",   "HEAD",   "POST",    "PUT",
                                                      "PATCH", "DELETE", "OPTIONS", "other"};
  return names[static_cast<std::size_t>(k)];
}

std::uint64_t HttpMetricsSnapshot::total_requests() const noexcept {
  std::uint64_t n = 0;
  for (auto r : requests) n += r;
  return n;
}

void HttpMetricsSnapshot::merge(const HttpMetricsSnapshot& o) noexcept {
  for (std::size_t i = 0; i < requests.size(); ++i) requests[i] += o.requests[i];
  for (std::size_t i = 0; i < responses.size(); ++i) responses[i] += o.responses[i];
  in_flight += o.in_flight;
  connections_accepted += o.connections_accepted;
  open_connections += o.open_connections;
  upgraded_open += o.upgraded_open;
  upgrades += o.upgrades;
  connections_rejected += o.connections_rejected;
  connections_shed += o.connections_shed;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  duration.merge(o.duration);
}

namespace detail {

void HttpRecorder::response_written(int status, std::int64_t started_ns,
                                    std::int64_t now_ns) noexcept {
  const int cls = status / 100;
  if (cls >= 1 && cls <= 5) bump(responses_[static_cast<std::size_t>(cls - 1)], 1);
  if (started_ns <= 0) return;
  bump(finished_, 1);
  duration_.record(now_ns > started_ns ? static_cast<std::uint64_t>(now_ns - started_ns) : 0);
}

HttpMetricsSnapshot HttpRecorder::snapshot() const noexcept {
  HttpMetricsSnapshot s;
  for (std::size_t i = 0; i < s.requests.size(); ++i) {
    s.requests[i] = requests_[i].load(std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < s.responses.size(); ++i) {
    s.responses[i] = responses_[i].load(std::memory_order_relaxed);
  }
  const std::uint64_t finished = finished_.load(std::memory_order_relaxed);
  const std::uint64_t started = started_.load(std::memory_order_relaxed);
  s.in_flight = started > finished ? started - finished : 0;
  s.connections_accepted = accepted_.load(std::memory_order_relaxed);
  s.bytes_in = bytes_in_.load(std::memory_order_relaxed);
  s.bytes_out = bytes_out_.load(std::memory_order_relaxed);
  s.duration = duration_.snapshot();
  return s;
}

}  // namespace detail
}  // namespace weft::http
