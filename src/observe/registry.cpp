#include <weft/observe/stats.hpp>

#include <weft/http/server.hpp>
#include <weft/loop.hpp>

#include <algorithm>

namespace weft::observe {

Registry::Registry() : created_(std::chrono::steady_clock::now()) {}

void Registry::add(const LoopMonitor& m) {
  std::lock_guard lock(mu_);
  monitors_.push_back(&m);
}

void Registry::remove(const LoopMonitor& m) {
  std::lock_guard lock(mu_);
  std::erase(monitors_, &m);
}

void Registry::add(const http::Server& s) {
  std::lock_guard lock(mu_);
  servers_.push_back(&s);
}

void Registry::remove(const http::Server& s) {
  std::lock_guard lock(mu_);
  std::erase(servers_, &s);
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

Snapshot Registry::collect() const {
  Snapshot s;
  s.time = std::chrono::system_clock::now();
  std::lock_guard lock(mu_);
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - created_).count();
  s.loop.loops = 0;
  for (const LoopMonitor* m : monitors_) {
    s.loop.merge(m->snapshot());
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
  for (const http::Server* srv : servers_) {
    s.has_http = true;
    s.http.merge(srv->metrics());
  }
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
