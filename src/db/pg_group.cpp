// PostgreSQL group commit: the writer connection's side (see pg_backend.hpp). Groups form
// only from writes that queued while something was in flight on slot 0, so a lone write
// is sent at once, alone, and never waits for company.
#include "db/pg_backend.hpp"

#include <exception>

namespace weft::db::pg {
namespace {

std::unique_ptr<Request> rollback_request() {
  auto r = std::make_unique<Request>();
  r->kind = Request::Kind::control;
  r->route = Route::writer;
  r->text = "ROLLBACK";
  r->sql = "ROLLBACK (of a failed group commit)";
  return r;
}

// Back to its state before it was sent.
void unsend(Request& r) noexcept {
  r.stmt.reset();
  r.commands.clear();
  r.command_index = 0;
  r.result.reset();
  r.error.reset();
  r.aborted = false;
  r.replan = false;
  r.stray = false;
  r.cancel_sent = false;
}

// The first member whose token fired (a cancel request rolled the group back, or its
// token fired in time to leave a group that failed anyway): it leaves with
// operation_canceled — it was not committed.
Request* cancelled_member(Request& g) {
  for (auto& m : g.members) {
    if (m->settled || !m->cancel_wanted) continue;
    m->error = Error(
        std::make_error_code(std::errc::operation_canceled),
        "the statement was cancelled; its group commit was rolled back and ran again without it");
    return m.get();
  }
  return nullptr;
}

bool has_stray(const Request& g) {
  for (const auto& m : g.members) {
    if (m->stray) return true;
  }
  return false;
}

}  // namespace

void GroupCounters::record(std::size_t size, Duration took) noexcept {
  groups.fetch_add(1, std::memory_order_relaxed);
  grouped_writes.fetch_add(size, std::memory_order_relaxed);
  group_size.record(size);
  group_ns.record(static_cast<std::uint64_t>(std::max<std::int64_t>(took.count(), 0)));
}

GroupStats Front::group_stats() const {
  GroupStats g;
  g.groups = group_counters.groups.load(std::memory_order_relaxed);
  g.grouped_writes = group_counters.grouped_writes.load(std::memory_order_relaxed);
  g.group_size = group_counters.group_size.snapshot();
  g.group_ns = group_counters.group_ns.snapshot();
  g.commit_ns = g.group_ns;  // the server answers the whole group at its sync, after COMMIT
  return g;
}

// The next request to send: the head of the queue, or every groupable write at the front
// (at most GroupCommit::max_size) as one group when there are two or more.
std::unique_ptr<Request> Connection::take_next() {
  std::unique_ptr<Request> r = std::move(pending_.front());
  pending_.pop_front();
  if (r->kind == Request::Kind::group) return r;  // a group sent again after a failure
  const std::size_t max = front_.spec.options.group_commit.max_size;
  if (!r->groupable || pending_.empty() || !pending_.front()->groupable || max < 2) return r;
  auto g = std::make_unique<Request>();
  g->kind = Request::Kind::group;
  g->route = Route::writer;
  g->sql = "(group commit)";
  g->ends_tx = g->commit = true;  // a COMMIT answered "ROLLBACK" is the group's error
  g->members.push_back(std::move(r));
  while (!pending_.empty() && pending_.front()->groupable && g->members.size() < max) {
    g->members.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  return g;
}

// BEGIN, each member's commands, COMMIT, one sync. Every member's parameters are encoded
// first: one that cannot be encoded fails alone (settled), before anything is sent.
bool Connection::send_group(Request& g) {
  std::vector<EncodedParams> encoded(g.members.size());
  for (std::size_t i = 0; i < g.members.size(); ++i) {
    Request& m = *g.members[i];
    if (m.settled) continue;
    try {
      encoded[i] = encode_params(m.params, m.sql);
    } catch (...) {
      m.error = to_error(std::current_exception());
      m.settled = true;
    }
  }
  auto control = [&](const char* sql) {
    g.group_commands.push_back({-1, Request::Command::execute});
    return PQsendQueryParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) != 0;
  };
  if (!control("BEGIN")) return false;
  for (std::size_t i = 0; i < g.members.size(); ++i) {
    Request& m = *g.members[i];
    if (m.settled) continue;
    m.sent_at = g.sent_at;
    if (!send_commands(m, encoded[i])) return false;
    for (Request::Command c : m.commands) g.group_commands.push_back({static_cast<int>(i), c});
  }
  return control("COMMIT") && PQpipelineSync(conn_) != 0;
}

// Routes one result to the member whose command produced it (BEGIN and COMMIT: the group).
void Connection::on_group_result(Request& g, PGresult* res) {
  if (g.command_index >= g.group_commands.size()) {  // never: one result per command sent
    PQclear(res);
    return;
  }
  const Request::GroupCommand c = g.group_commands[g.command_index];
  if (c.member < 0) return apply_result(g, false, res);
  Request& m = *g.members[static_cast<std::size_t>(c.member)];
  const bool is_prepare = c.command == Request::Command::prepare;
  if (is_prepare && m.stmt && PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
    m.stmt->failed = true;  // its Parse was skipped: the name does not exist on the server
    forget(m.stmt);
  }
  apply_result(m, is_prepare, res);
}

// Committed: every member is acknowledged, in order. Otherwise retried.
void Connection::finish_group(std::unique_ptr<Request> g) {
  std::size_t sent = 0;
  bool failed = g->error.has_value();
  for (const auto& m : g->members) {
    if (m->settled) continue;
    ++sent;
    failed = failed || m->error.has_value();
  }
  if (sent > 0) front_.group_counters.record(sent, front_.loop.now() - g->sent_at);
  if (failed) return retry_group(std::move(g));
  complete_members(*g, nullptr);
}

// Each member in order: a settled one with its own error, the others with their result or
// with `instead` when given.
void Connection::complete_members(Request& g, const Error* instead) {
  for (auto& m : g.members) {
    if (m->settled || (instead == nullptr && m->error)) {
      Error e = std::move(*m->error);
      front_.complete(std::move(m), Outcome<ResultSet>(std::move(e)));
    } else if (instead) {
      front_.complete(std::move(m), Outcome<ResultSet>(*instead));
    } else {
      ResultSet rs = m->result ? std::move(*m->result) : ResultSet{};
      front_.complete(std::move(m), Outcome<ResultSet>(std::move(rs)));
    }
  }
}

// Nothing was committed. The first member that failed on its own is settled with its error;
// the group goes back to the front of the queue, behind a ROLLBACK, and runs again without
// it (at most once more per failed member). When BEGIN or COMMIT itself failed, or the
// database is being destroyed, the members not settled fail with that error.
void Connection::retry_group(std::unique_ptr<Request> g) {
  const bool group_failed = g->error && !g->aborted;  // BEGIN or COMMIT failed on its own
  Request* culprit = nullptr;
  for (auto& m : g->members) {
    if (group_failed || culprit) break;
    if (!m->settled && m->error && !m->aborted && !m->stray) culprit = m.get();
  }
  if (!culprit && !group_failed && !front_.dead()) culprit = cancelled_member(*g);
  if (!culprit && !group_failed && !front_.dead() && has_stray(*g)) {
    // A cancel request meant for an earlier statement rolled the group back: nothing was
    // committed and nobody asked for it, so the whole group runs again.
    for (auto& m : g->members) {
      if (!m->settled) unsend(*m);
    }
    unsend(*g);
    g->cancel_wanted = false;
    g->group_commands.clear();
    pending_.push_front(std::move(g));
    pending_.push_front(rollback_request());
    return;
  }
  if (!culprit || front_.dead()) {
    const Error e = group_failed ? *g->error : Error(errc::abort, "the group commit failed");
    complete_members(*g, &e);
    if (!front_.dead()) pending_.push_front(rollback_request());
    return;
  }
  culprit->settled = true;
  g->cancel_wanted = false;
  for (auto& m : g->members) {
    if (!m->settled) unsend(*m);
    if (!m->settled && m->cancel_wanted) g->cancel_wanted = true;
  }
  unsend(*g);
  g->group_commands.clear();
  pending_.push_front(std::move(g));
  pending_.push_front(rollback_request());
}

}  // namespace weft::db::pg
