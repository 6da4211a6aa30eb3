#include <weft/observe/stats.hpp>

#include <weft/http/server.hpp>
#include <weft/loop.hpp>

#include <algorithm>

namespace weft::observe {
namespace {

PerLoopSnapshot& loop_entry(Snapshot& s, unsigned index) {
  auto it = std::lower_bound(s.each_loop.begin(), s.each_loop.end(), index,
                             [](const PerLoopSnapshot& e, unsigned i) { return e.index < i; });
  if (it == s.each_loop.end() || it->index != index) {
    PerLoopSnapshot e;
    e.index = index;
    it = s.each_loop.insert(it, e);
  }
  return *it;
}

void add_loop(Snapshot& s, LoopSnapshot l) {
  PerLoopSnapshot& e = loop_entry(s, l.index);
  if (e.has_loop) {
    e.loop.merge(l);
  } else {
    e.loop = l;
    e.loop.loops = 1;
    e.has_loop = true;
  }
  s.loop.merge(l);
}

void add_server(Snapshot& s, const http::Server& srv, unsigned first_loop) {
  const std::vector<http::HttpMetricsSnapshot> loops = srv.loop_metrics();
  for (unsigned k = 0; k < loops.size(); ++k) {
    PerLoopSnapshot& e = loop_entry(s, first_loop + k);
    e.has_http = true;
    e.http.merge(loops[k]);
    s.http.merge(loops[k]);
  }
  s.has_http = true;
}

}  // namespace

Registry::Registry() : created_(std::chrono::steady_clock::now()) {}

void Registry::add(const LoopMonitor& m) {
  std::lock_guard lock(mu_);
  monitors_.push_back(&m);
}

void Registry::remove(const LoopMonitor& m) {
  std::lock_guard lock(mu_);
  std::erase(monitors_, &m);
}

void Registry::add(const http::Server& s, unsigned first_loop) {
  std::lock_guard lock(mu_);
  servers_.emplace_back(&s, first_loop);
}

void Registry::remove(const http::Server& s) {
  std::lock_guard lock(mu_);
  std::erase_if(servers_, [&](const auto& e) { return e.first == &s; });
}

void Registry::add_database(const void* id, DbStatsSource source) {
  std::lock_guard lock(mu_);
  databases_.emplace_back(id, std::move(source));
}

void Registry::remove_database(const void* id) {
  std::lock_guard lock(mu_);
  std::erase_if(databases_, [id](const auto& d) { return d.first == id; });
}

void Registry::add_section(const void* id, std::string name, Function<std::string()> source) {
  std::lock_guard lock(mu_);
  sections_.push_back({id, std::move(name), std::move(source)});
}

void Registry::remove_section(const void* id) {
  std::lock_guard lock(mu_);
  std::erase_if(sections_, [id](const Section& s) { return s.id == id; });
}

void Registry::set_runtime(std::shared_ptr<Runtime> rt) {
  std::lock_guard lock(mu_);
  runtime_ = std::move(rt);
}

// Under mu_. A Context shared by several servers (or loops) is counted once.
void Registry::collect_tls(Snapshot& s) const {
  std::vector<const void*> seen;
  for (const auto& entry : servers_) {
    const tls::Context& ctx = entry.first->options().tls;
    if (!ctx || std::find(seen.begin(), seen.end(), ctx.state().get()) != seen.end()) continue;
    seen.push_back(ctx.state().get());
    const tls::Stats t = tls::stats(ctx);
    s.has_tls = true;
    s.tls.handshakes_in_progress += t.handshakes_in_progress;
    s.tls.handshakes_done += t.handshakes_done;
    s.tls.resumed += t.resumed;
    s.tls.handshakes_failed += t.handshakes_failed;
    s.tls.handshakes_refused += t.handshakes_refused;
    s.tls.pool_steps += t.pool_steps;
    s.tls.inline_steps += t.inline_steps;
  }
  if (s.has_tls) s.ktls = tls::ktls_status();
}

Snapshot Registry::collect() const {
  Snapshot s;
  s.time = std::chrono::system_clock::now();
  std::lock_guard lock(mu_);
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - created_).count();
  s.loop.loops = 0;
  for (const LoopMonitor* m : monitors_) {
    add_loop(s, m->snapshot());
    if (const Watchdog* w = m->watchdog()) {
      for (StallReport& r : w->recent()) s.recent_stalls.push_back(std::move(r));
    }
  }
  std::sort(s.recent_stalls.begin(), s.recent_stalls.end(),
            [](const StallReport& a, const StallReport& b) { return a.began < b.began; });
  const Runtime* rt = runtime_.get();
  if (!rt && !monitors_.empty()) rt = &monitors_.front()->loop().runtime();
  if (rt) {
    for (std::size_t c = 0; c < kWorkClassCount; ++c) {
      const auto cls = static_cast<WorkClass>(c);
      s.pools[c] = {rt->stats(cls), rt->histograms(cls)};
    }
  }
  for (const auto& [srv, first_loop] : servers_) add_server(s, *srv, first_loop);
  collect_tls(s);
  for (auto& [id, source] : databases_) {
    s.has_db = true;
    DbGroupStats g = source();
    s.db.groups += g.groups;
    s.db.grouped_writes += g.grouped_writes;
    s.db.group_size.merge(g.group_size);
    s.db.commit_ns.merge(g.commit_ns);
    s.db.group_ns.merge(g.group_ns);
  }
  for (Section& section : sections_) s.sections.emplace_back(section.name, section.source());
  return s;
}

}  // namespace weft::observe
