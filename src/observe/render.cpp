// Prometheus text and JSON renderings of a Snapshot (shapes documented in stats.hpp).
#include <weft/observe/stats.hpp>

#include "observe/render_tls.hpp"

#include <weft/handle.hpp>

#include <array>
#include <cstdio>
#include <ctime>

namespace weft::observe {
namespace {

constexpr std::array<double, 16> kBoundsSeconds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                   0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                   1,      2.5,     5,      10};

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
std::string num(std::uint64_t v) { return std::to_string(v); }
double ns_to_s(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }
double ns_to_ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// ---- Prometheus -----------------------------------------------------------------------

class PromWriter {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const std::string& name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) out_ += '{' + labels + '}';
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  // One histogram series in seconds from a nanosecond snapshot.
  void histogram(const std::string& name, const std::string& labels, const HistogramSnapshot& h) {
    const std::string sep = labels.empty() ? "" : labels + ",";
    for (double b : kBoundsSeconds) {
      const auto bound_ns = static_cast<std::uint64_t>(b * 1e9);
      sample(name + "_bucket", sep + "le=\"" + num(b) + "\"", num(h.count_at_or_below(bound_ns)));
    }
    sample(name + "_bucket", sep + "le=\"+Inf\"", num(h.count()));
    sample(name + "_sum", labels, num(ns_to_s(h.sum())));
    sample(name + "_count", labels, num(h.count()));
  }
  // One histogram series of counts (not times), buckets 1, 2, 4 .. 1024.
  void count_histogram(const std::string& name, const HistogramSnapshot& h) {
    for (std::uint64_t b = 1; b <= 1024; b *= 2) {
      sample(name + "_bucket", "le=\"" + num(b) + "\"", num(h.count_at_or_below(b)));
    }
    sample(name + "_bucket", "le=\"+Inf\"", num(h.count()));
    sample(name + "_sum", "", num(h.sum()));
    sample(name + "_count", "", num(h.count()));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string class_label(std::size_t c) {
  return std::string("class=\"") + to_string(static_cast<WorkClass>(c)) + "\"";
}

std::string loop_label(unsigned index) { return "loop=\"" + std::to_string(index) + "\""; }
std::string join_labels(const std::string& a, const std::string& b) {
  return a.empty() ? b : a + "," + b;
}

// A loop family's samples: the total (unlabelled), then one per monitored loop.
template <class Get>
void loop_samples(PromWriter& w, const char* name, const std::string& labels, const Snapshot& s,
                  Get get) {
  w.sample(name, labels, get(s.loop));
  for (const PerLoopSnapshot& e : s.each_loop) {
    if (e.has_loop) w.sample(name, join_labels(labels, loop_label(e.index)), get(e.loop));
  }
}

// An http family's samples: the total, then one per loop that serves.
template <class Get>
void http_samples(PromWriter& w, const char* name, const std::string& labels, const Snapshot& s,
                  Get get) {
  w.sample(name, labels, get(s.http));
  for (const PerLoopSnapshot& e : s.each_loop) {
    if (e.has_http) w.sample(name, join_labels(labels, loop_label(e.index)), get(e.http));
  }
}

void prom_loop_counters(PromWriter& w, const Snapshot& s) {
  using L = const LoopSnapshot&;
  w.family("weft_loop_iterations_total", "counter", "Loop iterations.");
  loop_samples(w, "weft_loop_iterations_total", "", s, [](L l) { return num(l.probe.iterations); });
  w.family("weft_loop_idle_seconds_total", "counter",
           "Time loops spent waiting in poll (or stopped).");
  loop_samples(w, "weft_loop_idle_seconds_total", "", s,
               [](L l) { return num(ns_to_s(l.probe.idle_ns)); });
  w.family("weft_loop_elapsed_seconds_total", "counter",
           "Time since each loop was created, summed.");
  loop_samples(w, "weft_loop_elapsed_seconds_total", "", s,
               [](L l) { return num(ns_to_s(l.probe.elapsed_ns)); });
  w.family("weft_loop_utilization", "gauge",
           "Busy share of the last window (0..1, mean over loops).");
  loop_samples(w, "weft_loop_utilization", "", s, [](L l) { return num(l.window.utilization); });
}

void prom_loop(PromWriter& w, const Snapshot& s) {
  using L = const LoopSnapshot&;
  w.family("weft_loops", "gauge", "Event loops measured.");
  w.sample("weft_loops", "", num(static_cast<std::uint64_t>(s.loop.loops)));
  prom_loop_counters(w, s);
  w.family("weft_loop_lag_seconds", "histogram", "How late the lag sampler's timer fired.");
  w.histogram("weft_loop_lag_seconds", "", s.loop.lag);
  for (const PerLoopSnapshot& e : s.each_loop) {
    if (e.has_loop) w.histogram("weft_loop_lag_seconds", loop_label(e.index), e.loop.lag);
  }
  w.family("weft_loop_active_handles", "gauge", "Active handles by kind.");
  for (std::size_t k = 0; k < kHandleKindCount; ++k) {
    loop_samples(w, "weft_loop_active_handles",
                 std::string("kind=\"") + to_string(static_cast<HandleKind>(k)) + "\"", s,
                 [k](L l) { return num(l.probe.active_handles[k]); });
  }
  w.family("weft_loop_stalls_total", "counter", "Callbacks that ran past the watchdog threshold.");
  loop_samples(w, "weft_loop_stalls_total", "", s, [](L l) { return num(l.stalls.loop_stalls); });
  w.family("weft_loop_stall_seconds_total", "counter", "Total duration of ended stalls.");
  loop_samples(w, "weft_loop_stall_seconds_total", "", s,
               [](L l) { return num(ns_to_s(l.stalls.loop_stall_ns)); });
  w.family("weft_loop_stalled", "gauge", "1 while a loop is stalled now.");
  loop_samples(w, "weft_loop_stalled", "", s,
               [](L l) { return std::string(l.stalls.stalled_now ? "1" : "0"); });
}

void prom_pools(PromWriter& w, const Snapshot& s) {
  w.family("weft_pool_jobs", "gauge", "Pool jobs queued or running now, by work class.");
  for (std::size_t c = 0; c < kWorkClassCount; ++c) {
    w.sample("weft_pool_jobs", class_label(c) + ",state=\"queued\"", num(s.pools[c].stats.queued));
    w.sample("weft_pool_jobs", class_label(c) + ",state=\"running\"",
             num(s.pools[c].stats.running));
  }
  w.family("weft_pool_jobs_total", "counter", "Pool jobs finished, by work class and outcome.");
  for (std::size_t c = 0; c < kWorkClassCount; ++c) {
    const WorkClassStats& st = s.pools[c].stats;
    w.sample("weft_pool_jobs_total", class_label(c) + ",outcome=\"completed\"", num(st.completed));
    w.sample("weft_pool_jobs_total", class_label(c) + ",outcome=\"rejected\"", num(st.rejected));
    w.sample("weft_pool_jobs_total", class_label(c) + ",outcome=\"canceled\"", num(st.canceled));
  }
  w.family("weft_pool_oldest_queued_seconds", "gauge", "Age of the oldest queued job.");
  for (std::size_t c = 0; c < kWorkClassCount; ++c) {
    w.sample("weft_pool_oldest_queued_seconds", class_label(c),
             num(ns_to_s(s.pools[c].stats.oldest_queued_ns)));
  }
  w.family("weft_pool_queue_wait_seconds", "histogram", "Time from submission to start.");
  for (std::size_t c = 0; c < kWorkClassCount; ++c) {
    w.histogram("weft_pool_queue_wait_seconds", class_label(c), s.pools[c].times.queue_wait);
  }
  w.family("weft_pool_run_seconds", "histogram", "Pool job run time.");
  for (std::size_t c = 0; c < kWorkClassCount; ++c) {
    w.histogram("weft_pool_run_seconds", class_label(c), s.pools[c].times.run);
  }
  w.family("weft_pool_slow_jobs_total", "counter",
           "Pool jobs that ran past the watchdog's job threshold.");
  w.sample("weft_pool_slow_jobs_total", "", num(s.loop.stalls.slow_jobs));
}

void prom_db(PromWriter& w, const Snapshot& s) {
  const DbGroupStats& g = s.db;
  w.family("weft_db_groups_total", "counter",
           "Group commits (SQLite): transactions of grouped writes.");
  w.sample("weft_db_groups_total", "", num(g.groups));
  w.family("weft_db_grouped_writes_total", "counter", "Writes committed (or failed) in groups.");
  w.sample("weft_db_grouped_writes_total", "", num(g.grouped_writes));
  w.family("weft_db_group_size", "histogram", "Writes per group commit.");
  w.count_histogram("weft_db_group_size", g.group_size);
  w.family("weft_db_commit_seconds", "histogram", "A group's COMMIT (its fsync).");
  w.histogram("weft_db_commit_seconds", "", g.commit_ns);
  w.family("weft_db_group_seconds", "histogram", "A group on the writer, BEGIN to COMMIT.");
  w.histogram("weft_db_group_seconds", "", g.group_ns);
}

void prom_http_traffic(PromWriter& w, const Snapshot& s) {
  using H = const http::HttpMetricsSnapshot&;
  w.family("weft_http_requests_total", "counter", "HTTP requests received, by method.");
  for (std::size_t m = 0; m < http::kMethodKinds; ++m) {
    http_samples(
        w, "weft_http_requests_total",
        std::string("method=\"") + http::to_string(static_cast<http::MethodKind>(m)) + "\"", s,
        [m](H h) { return num(h.requests[m]); });
  }
  w.family("weft_http_responses_total", "counter", "HTTP responses sent, by status class.");
  for (std::size_t c = 0; c < s.http.responses.size(); ++c) {
    http_samples(w, "weft_http_responses_total", "class=\"" + std::to_string(c + 1) + "xx\"", s,
                 [c](H h) { return num(h.responses[c]); });
  }
  w.family("weft_http_requests_in_flight", "gauge", "Requests received and not yet answered.");
  http_samples(w, "weft_http_requests_in_flight", "", s, [](H h) { return num(h.in_flight); });
  w.family("weft_http_received_bytes_total", "counter", "Request bytes parsed.");
  http_samples(w, "weft_http_received_bytes_total", "", s, [](H h) { return num(h.bytes_in); });
  w.family("weft_http_sent_bytes_total", "counter", "Response bytes handed to sockets.");
  http_samples(w, "weft_http_sent_bytes_total", "", s, [](H h) { return num(h.bytes_out); });
  w.family("weft_http_request_duration_seconds", "histogram",
           "From request head received to response head written.");
  w.histogram("weft_http_request_duration_seconds", "", s.http.duration);
  for (const PerLoopSnapshot& e : s.each_loop) {
    if (e.has_http)
      w.histogram("weft_http_request_duration_seconds", loop_label(e.index), e.http.duration);
  }
}

void prom_http(PromWriter& w, const Snapshot& s) {
  using H = const http::HttpMetricsSnapshot&;
  prom_http_traffic(w, s);
  w.family("weft_http_open_connections", "gauge", "Open HTTP connections (parked ones included).");
  http_samples(w, "weft_http_open_connections", "", s, [](H h) { return num(h.open_connections); });
  w.family("weft_http_upgraded_connections", "gauge",
           "Connections a 101 handed to another protocol (WebSocket), open now.");
  http_samples(w, "weft_http_upgraded_connections", "", s,
               [](H h) { return num(h.upgraded_open); });
  w.family("weft_http_upgrades_total", "counter", "Connections upgraded by a 101 (WebSocket).");
  http_samples(w, "weft_http_upgrades_total", "", s, [](H h) { return num(h.upgrades); });
  w.family("weft_http_connections_total", "counter", "HTTP connections started.");
  http_samples(w, "weft_http_connections_total", "", s,
               [](H h) { return num(h.connections_accepted); });
  w.family("weft_http_connections_rejected_total", "counter",
           "HTTP connections refused: over max_connections (503 or closed), or shed by the "
           "listener when descriptors ran out (EMFILE).");
  http_samples(w, "weft_http_connections_rejected_total", "reason=\"limit\"", s,
               [](H h) { return num(h.connections_rejected); });
  http_samples(w, "weft_http_connections_rejected_total", "reason=\"emfile\"", s,
               [](H h) { return num(h.connections_shed); });
}

// ---- JSON -----------------------------------------------------------------------------

std::string json_hist(const HistogramSnapshot& h) {
  return "{\"count\":" + num(h.count()) + ",\"mean\":" + num(h.mean() / 1e6) +
         ",\"p50\":" + num(ns_to_ms(h.percentile(0.5))) +
         ",\"p90\":" + num(ns_to_ms(h.percentile(0.9))) +
         ",\"p99\":" + num(ns_to_ms(h.percentile(0.99))) + ",\"max\":" + num(ns_to_ms(h.max())) +
         "}";
}

// A histogram of counts: the same keys as json_hist, unscaled.
std::string json_count_hist(const HistogramSnapshot& h) {
  return "{\"count\":" + num(h.count()) + ",\"mean\":" + num(h.mean()) +
         ",\"p50\":" + num(h.percentile(0.5)) + ",\"p90\":" + num(h.percentile(0.9)) +
         ",\"p99\":" + num(h.percentile(0.99)) + ",\"max\":" + num(h.max()) + "}";
}

std::string json_db(const DbGroupStats& g) {
  return "{\"groups\":" + num(g.groups) + ",\"grouped_writes\":" + num(g.grouped_writes) +
         ",\"group_size\":" + json_count_hist(g.group_size) +
         ",\"commit_ms\":" + json_hist(g.commit_ns) + ",\"group_ms\":" + json_hist(g.group_ns) +
         "}";
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string json_loop(const LoopSnapshot& l) {
  std::string out =
      "{\"utilization\":" + num(l.utilization()) + ",\"iterations\":" + num(l.probe.iterations) +
      ",\"lag_ms\":" + json_hist(l.lag) + ",\"window\":{\"seconds\":" + num(l.window.seconds) +
      ",\"utilization\":" + num(l.window.utilization) +
      ",\"iterations_per_s\":" + num(l.window.iterations_per_s) +
      ",\"lag_ms\":" + json_hist(l.window.lag) + "},\"active_handles\":{";
  for (std::size_t k = 0; k < kHandleKindCount; ++k) {
    if (k) out += ',';
    json_string(out, to_string(static_cast<HandleKind>(k)));
    out += ':' + num(l.probe.active_handles[k]);
  }
  out += "},\"stalls\":{\"count\":" + num(l.stalls.loop_stalls) +
         ",\"total_ms\":" + num(ns_to_ms(l.stalls.loop_stall_ns)) +
         ",\"stalled_now\":" + (l.stalls.stalled_now ? "true" : "false") + "}}";
  return out;
}

std::string json_pool(const PoolClassSnapshot& p) {
  const WorkClassStats& s = p.stats;
  return "{\"queued\":" + num(s.queued) + ",\"running\":" + num(s.running) +
         ",\"completed\":" + num(s.completed) + ",\"rejected\":" + num(s.rejected) +
         ",\"canceled\":" + num(s.canceled) +
         ",\"oldest_queued_ms\":" + num(ns_to_ms(s.oldest_queued_ns)) +
         ",\"queue_wait_ms\":" + json_hist(p.times.queue_wait) +
         ",\"run_ms\":" + json_hist(p.times.run) + "}";
}

std::string json_http(const http::HttpMetricsSnapshot& h) {
  std::string out = "{\"requests\":{";
  for (std::size_t m = 0; m < http::kMethodKinds; ++m) {
    if (m) out += ',';
    json_string(out, http::to_string(static_cast<http::MethodKind>(m)));
    out += ':' + num(h.requests[m]);
  }
  out += "},\"responses\":{";
  for (std::size_t c = 0; c < h.responses.size(); ++c) {
    if (c) out += ',';
    out += "\"" + std::to_string(c + 1) + "xx\":" + num(h.responses[c]);
  }
  out += "},\"in_flight\":" + num(h.in_flight) +
         ",\"open_connections\":" + num(h.open_connections) +
         ",\"connections\":" + num(h.connections_accepted) +
         ",\"connections_rejected\":" + num(h.connections_rejected) +
         ",\"connections_shed\":" + num(h.connections_shed) +
         ",\"upgraded_open\":" + num(h.upgraded_open) + ",\"upgrades\":" + num(h.upgrades) +
         ",\"bytes_in\":" + num(h.bytes_in) + ",\"bytes_out\":" + num(h.bytes_out) +
         ",\"duration_ms\":" + json_hist(h.duration) + "}";
  return out;
}

void json_stall(std::string& out, const StallReport& r) {
  const bool job = r.kind == StallReport::Kind::pool_job;
  out += std::string("{\"kind\":\"") + (job ? "pool_job" : "loop") + "\",\"id\":" + num(r.id) +
         ",\"label\":";
  json_string(out, r.label);
  if (!r.loop.empty()) {
    out += ",\"loop\":";
    json_string(out, r.loop);
  }
  if (job) out += std::string(",\"class\":\"") + to_string(r.work_class) + "\"";
  out += ",\"began\":\"" + iso_time(r.began) +
         "\",\"duration_ms\":" + num(static_cast<double>(r.duration.count()) / 1e6) +
         ",\"ongoing\":" + (r.ongoing ? "true" : "false") + ",\"stack\":[";
  for (std::size_t i = 0; i < r.stack.size(); ++i) {
    if (i) out += ',';
    json_string(out, r.stack[i]);
  }
  out += "]}";
}

}  // namespace

std::string render_prometheus(const Snapshot& s) {
  PromWriter w;
  prom_loop(w, s);
  prom_pools(w, s);
  if (s.has_http) prom_http(w, s);
  if (s.has_db) prom_db(w, s);
  std::string text = w.take();
  if (s.has_tls) text += tls_prometheus(s.tls, s.ktls);
  return text;
}

std::string render_json(const Snapshot& s) {
  const double unix_s = std::chrono::duration<double>(s.time.time_since_epoch()).count();
  char when[32];
  std::snprintf(when, sizeof when, "%.3f", unix_s);
  std::string out = std::string("{\"time\":") + when + ",\"uptime_s\":" + num(s.uptime_s) +
                    ",\"loops\":" + num(static_cast<std::uint64_t>(s.loop.loops)) +
                    ",\"loop\":" + json_loop(s.loop) + ",\"pools\":{";
  for (std::size_t c = 0; c < kWorkClassCount; ++c) {
    if (c) out += ',';
    out += std::string("\"") + to_string(static_cast<WorkClass>(c)) + "\":" + json_pool(s.pools[c]);
  }
  out += "},\"slow_jobs\":" + num(s.loop.stalls.slow_jobs) + ",\"http\":";
  out += s.has_http ? json_http(s.http) : "null";
  out += ",\"tls\":";
  out += s.has_tls ? tls_json(s.tls, s.ktls) : "null";
  out += ",\"db\":";
  out += s.has_db ? json_db(s.db) : "null";
  out += ",\"each_loop\":[";
  for (std::size_t i = 0; i < s.each_loop.size(); ++i) {
    const PerLoopSnapshot& e = s.each_loop[i];
    if (i) out += ',';
    out += "{\"loop\":" + num(static_cast<std::uint64_t>(e.index)) + ",\"stats\":";
    out += e.has_loop ? json_loop(e.loop) : "null";
    out += ",\"http\":";
    out += e.has_http ? json_http(e.http) : "null";
    out += '}';
  }
  out += "],\"recent_stalls\":[";
  for (std::size_t i = 0; i < s.recent_stalls.size(); ++i) {
    if (i) out += ',';
    json_stall(out, s.recent_stalls[i]);
  }
  out += "]";
  for (const auto& [name, value] : s.sections) {
    out.append(",\"").append(name).append("\":").append(value);  // names: the program's
  }
  out += "}";
  return out;
}

void json_string(std::string& out, std::string_view v) {
  out += '"';
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace weft::observe
