// Snapshot: everything weft measures, gathered at one moment from a Registry — loops (one
// LoopMonitor each), the pools of their Runtime, HTTP servers, the watchdogs' recent
// stalls — merged across loops; and its two renderings.
//
// render_prometheus(): Prometheus text exposition format 0.0.4 (checked with
// `promtool check metrics` in the tests). Metric names (all prefixed weft_):
//   loop:  weft_loops, weft_loop_iterations_total, weft_loop_idle_seconds_total,
//          weft_loop_elapsed_seconds_total, weft_loop_utilization (last window),
//          weft_loop_lag_seconds (histogram), weft_loop_active_handles{kind},
//          weft_loop_stalls_total, weft_loop_stall_seconds_total, weft_loop_stalled
//   pools: weft_pool_jobs{class,state="queued|running"},
//          weft_pool_jobs_total{class,outcome="completed|rejected|canceled"},
//          weft_pool_oldest_queued_seconds{class},
//          weft_pool_queue_wait_seconds{class} and weft_pool_run_seconds{class} (histograms),
//          weft_pool_slow_jobs_total
//   http:  weft_http_requests_total{method}, weft_http_responses_total{class="2xx"...},
//          weft_http_requests_in_flight, weft_http_open_connections,
//          weft_http_connections_total, weft_http_received_bytes_total,
//          weft_http_sent_bytes_total, weft_http_request_duration_seconds (histogram),
//          weft_http_upgraded_connections (open WebSocket connections: those a 101
//          handed over), weft_http_upgrades_total
//   tls:   weft_tls_handshakes_total{outcome="done|failed"}, weft_tls_resumed_total,
//          weft_tls_handshakes_refused_total, weft_tls_handshakes_in_progress,
//          weft_tls_handshake_steps_total{where="pool|inline"}, weft_tls_ktls (1: in use)
//   db:    weft_db_groups_total, weft_db_grouped_writes_total, weft_db_group_size
//          (histogram, buckets 1, 2, 4 .. 1024 writes), weft_db_commit_seconds and
//          weft_db_group_seconds (histograms): SQLite's group commit (db::GroupStats)
// Every loop and http family also has one series per loop, labelled loop="N" (the
// LoopMonitorOptions::loop_index of its monitor; a Server's loop k with workers > 1 is
// loop k), beside its unlabelled series, the total over loops: select {loop=""} for the
// totals and {loop!=""} for one series per loop (a sum over all series counts twice).
// Histogram buckets are fixed (100 µs .. 10 s); the counts come from weft's 6 %-precise
// buckets, so a value within 6 % of a bound may be counted in the next bucket.
//
// render_json(): one object, the shape the dashboard reads (times in ms, rates per s):
// {
//   "time": 1764624000.123,            // unix seconds
//   "uptime_s": 12.5,                  // since the registry was created
//   "loops": 1,
//   "loop": {
//     "utilization": 0.12,             // busy share since start (mean over loops)
//     "iterations": 12345,
//     "lag_ms": {"count": 1200, "mean": 0.4, "p50": 0.2, "p90": 0.9, "p99": 2.1, "max": 11.0},
//     "window": {"seconds": 1.0, "utilization": 0.3, "iterations_per_s": 950.0,
//                "lag_ms": {...same keys...}},
//     "active_handles": {"timer": 3, "tcp": 2, "listener": 1, ...},   // every HandleKind
//     "stalls": {"count": 1, "total_ms": 301.0, "stalled_now": false}
//   },
//   "pools": {"fs": P, "slow": P, "cpu": P},   // P = {"queued", "running", "completed",
//                                              //  "rejected", "canceled", "oldest_queued_ms",
//                                              //  "queue_wait_ms": {...}, "run_ms": {...}}
//   "slow_jobs": 0,
//   "http": {"requests": {"GET": 10, "HEAD": 0, "POST": 2, "PUT": 0, "PATCH": 0,
//                         "DELETE": 0, "OPTIONS": 0, "other": 0},
//            "responses": {"1xx": 0, "2xx": 11, "3xx": 0, "4xx": 1, "5xx": 0},
//            "in_flight": 0, "open_connections": 2, "connections": 5,
//            "upgraded_open": 0, "upgrades": 0,
//            "bytes_in": 1234, "bytes_out": 5678, "duration_ms": {...}},   // null: no server
//   "db": {"groups": 40, "grouped_writes": 900,             // null: no database registered
//          "group_size": {"count", "mean", "p50", "p90", "p99", "max"},  // writes, not ms
//          "commit_ms": {...}, "group_ms": {...}},
//   "tls": {"ktls": false,                                    // null: no TLS server registered
//           "ktls_kernel": false,         // the kernel accepted TCP_ULP "tls" (tls::ktls_status())
//           "reason": "kernel offers no tls ULP (tcp_available_ulp: mptcp)",
//           "handshakes_in_progress": 0, "handshakes_done": 10, "resumed": 4,
//           "handshakes_failed": 1, "handshakes_refused": 0,
//           "pool_steps": 20, "inline_steps": 0},   // summed over the servers' Contexts
//   "each_loop": [{"loop": 0, "stats": {...as "loop"...} or null,
//                  "http": {...as "http"...} or null}, ...],   // by loop index
//   "recent_stalls": [{"kind": "loop"|"pool_job", "id": 1, "label": "GET /burn",
//                      "loop": "loop 1 (weft-http-1)" (named watchdogs only),
//                      "class": "cpu" (pool jobs only), "began": "2026-12-01T21:00:00.123Z",
//                      "duration_ms": 301.2, "ongoing": false, "stack": ["frame", ...]}]
//   (a frame: "module+0xoffset" or "symbol+0xoff (module+0xoffset)", never an address)
// }
#pragma once

#include <weft/function.hpp>
#include <weft/histogram.hpp>
#include <weft/http/metrics.hpp>
#include <weft/observe/loop_monitor.hpp>
#include <weft/pool.hpp>
#include <weft/tls/stats.hpp>

#include <array>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace weft::http {
class Server;
}

namespace weft::observe {

struct PoolClassSnapshot {
  WorkClassStats stats;
  WorkClassHistograms times;
};

// A database writer's group commit figures (db::GroupStats, in observe's own words: observe
// sits beside db, not above it, so an HTTP-only program links no database library).
struct DbGroupStats {
  std::uint64_t groups = 0;
  std::uint64_t grouped_writes = 0;
  HistogramSnapshot group_size;  // writes per group
  HistogramSnapshot commit_ns;   // the COMMIT (its fsync), ns
  HistogramSnapshot group_ns;    // BEGIN to COMMIT, ns
};
using DbStatsSource = Function<DbGroupStats()>;

// One loop's own figures, for the loop="N" series.
struct PerLoopSnapshot {
  unsigned index = 0;     // LoopMonitorOptions::loop_index; a server's loop k: first + k
  bool has_loop = false;  // a LoopMonitor of this index is registered
  LoopSnapshot loop;
  bool has_http = false;
  http::HttpMetricsSnapshot http;  // merged over the servers serving on this loop
};

struct Snapshot {
  std::chrono::system_clock::time_point time{};
  double uptime_s = 0;
  LoopSnapshot loop;  // merged over every registered loop
  std::array<PoolClassSnapshot, kWorkClassCount> pools{};
  bool has_http = false;
  http::HttpMetricsSnapshot http;  // merged over every registered server
  bool has_tls = false;
  tls::Stats tls;  // summed over the registered servers' distinct Contexts
  tls::KtlsStatus ktls;
  bool has_db = false;
  DbGroupStats db;  // summed over every registered database
  std::vector<StallReport> recent_stalls;
  std::vector<PerLoopSnapshot> each_loop;  // by index, ascending
  // Sections added by the program (Registry::add_section): name, JSON text.
  std::vector<std::pair<std::string, std::string>> sections;
};

// What a snapshot is gathered from. Registration is thread-safe; a registered object
// must be removed before it is destroyed. collect() runs on the loop thread of the
// registered servers (Server::metrics() is loop-thread only); loop monitors and pools
// may belong to any loop.
class Registry {
 public:
  Registry();
  void add(const LoopMonitor& m);
  void remove(const LoopMonitor& m);
  // A server's loop k (Server::loop_metrics()) is reported as loop first_loop + k: a
  // program with one Server per loop thread (weft-serve's workers) gives each its index.
  void add(const http::Server& s, unsigned first_loop = 0);
  void remove(const http::Server& s);
  // A database's figures, read from the thread that collects (db::Database::group_stats()
  // may be); `id` names it for remove().
  void add_database(const void* id, DbStatsSource source);
  void remove_database(const void* id);
  // A named section of the JSON stats ("name": what `source` returns: one JSON value), for
  // a program's own figures; `source` is called from the collecting thread, under the
  // registry's lock. `id` names it for remove_section().
  void add_section(const void* id, std::string name, Function<std::string()> source);
  void remove_section(const void* id);
  // The pools reported (a Runtime shared by the loops); null: the first monitor's loop's.
  void set_runtime(std::shared_ptr<Runtime> rt);
  Snapshot collect() const;

 private:
  void collect_tls(Snapshot& s) const;
  mutable std::mutex mu_;
  std::vector<const LoopMonitor*> monitors_;
  std::vector<std::pair<const http::Server*, unsigned>> servers_;         // and first_loop
  mutable std::vector<std::pair<const void*, DbStatsSource>> databases_;  // called under mu_
  struct Section {
    const void* id;
    std::string name;
    Function<std::string()> source;
  };
  mutable std::vector<Section> sections_;  // called under mu_
  std::shared_ptr<Runtime> runtime_;
  std::chrono::steady_clock::time_point created_;
};

std::string render_prometheus(const Snapshot& s);
std::string render_json(const Snapshot& s);

}  // namespace weft::observe
