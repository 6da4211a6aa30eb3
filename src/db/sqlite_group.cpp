// The SQLite writer's statement jobs: one statement alone (StatementOp), or a group commit
// (GroupOp). Pool side (run) and loop side (deliver, fail). See GroupCommit in
// database.hpp for the contract and sqlite_backend.hpp for the lane.
#include "db/sqlite_backend.hpp"

#include <chrono>
#include <exception>

namespace weft::db::sqlite {
namespace {

std::uint64_t elapsed_ns(std::chrono::steady_clock::time_point since) noexcept {
  auto d = std::chrono::steady_clock::now() - since;
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

// Calls f(member) for every member even if some throw; rethrows the first exception, so
// that every callback runs exactly once whatever one of them does.
template <class F>
void for_each_member(std::vector<std::shared_ptr<StatementOp>>& members, F f) {
  std::exception_ptr first;
  for (auto& m : members) {
    try {
      f(*m);
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace

ResultSet StatementOp::execute(Connection& w) {
  if (!interrupt) return w.run(sql_, params_);
  return interrupt->run(w, [&] { return w.run(sql_, params_); });
}

void StatementOp::run(Core& core) noexcept {
  const auto began = std::chrono::steady_clock::now();
  try {
    Connection& w = core.writer();
    if (tx != 0 && !w.in_transaction()) {
      out_.emplace(Error(errc::abort,
                         "the transaction was rolled back by the database after an earlier error"));
      return;
    }
    ResultSet rs = execute(w);
    core.counters().writes.fetch_add(1, std::memory_order_relaxed);
    if (tx == 0 && w.in_transaction()) {  // defense in depth: the scanner refuses BEGIN
      w.exec_simple("ROLLBACK");
      out_.emplace(
          Error(errc::misuse, "the statement left a transaction open; it was rolled back"));
      return;
    }
    out_.emplace(std::move(rs));
  } catch (...) {
    out_.emplace(to_error(std::current_exception()));
  }
  if (groupable_) {  // a group of one: its own autocommit is the group's commit
    Counters& c = core.counters();
    const std::uint64_t ns = elapsed_ns(began);
    c.groups.fetch_add(1, std::memory_order_relaxed);
    c.grouped_writes.fetch_add(1, std::memory_order_relaxed);
    c.group_size.record(1);
    c.commit_ns.record(ns);
    c.group_ns.record(ns);
  }
}

// BEGIN IMMEDIATE, then every member in its own savepoint, then COMMIT. A member that
// fails is rolled back to its savepoint and keeps its error; the others go on. Some
// errors make SQLite roll back the whole transaction (an interrupt by statement_timeout or a
// cancellation,
// RAISE(ROLLBACK) in a trigger, I/O errors, a full disk): then that member keeps its error
// and the group starts again without it — nothing was committed, so its neighbours simply
// run again (at most once more per failed member).
void GroupOp::run(Core& core) noexcept {
  const auto began = std::chrono::steady_clock::now();
  Counters& counters = core.counters();
  Connection* w = nullptr;
  try {
    w = &core.writer();
    for (;;) {
      w->exec_simple("BEGIN IMMEDIATE");
      if (apply_all(*w)) break;
    }
  } catch (...) {  // BEGIN or a savepoint statement failed: nothing is committed
    Error e = to_error(std::current_exception());
    if (w && w->in_transaction()) {
      try {
        w->exec_simple("ROLLBACK");
      } catch (...) {  // the first error is the one to report
      }
    }
    fail_pending(e);
    counters.groups.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  commit(*w, counters);
  counters.groups.fetch_add(1, std::memory_order_relaxed);
  counters.grouped_writes.fetch_add(members_.size(), std::memory_order_relaxed);
  counters.group_size.record(members_.size());
  counters.group_ns.record(elapsed_ns(began));
}

// One pass over the members that have not failed. False: a member's failure took the
// transaction with it (it keeps its error; the others' results are void). Throws if a
// SAVEPOINT, RELEASE or ROLLBACK TO fails.
bool GroupOp::apply_all(Connection& w) {
  for (auto& m : members_) {
    if (m->out_ && !m->out_->ok()) continue;  // failed alone in an earlier pass
    m->out_.reset();
    w.exec_simple("SAVEPOINT weft_write");
    try {
      m->out_.emplace(m->execute(w));
    } catch (...) {
      m->out_.emplace(to_error(std::current_exception()));
      if (!w.in_transaction()) {
        for (auto& other : members_) {
          if (other->out_ && other->out_->ok()) other->out_.reset();
        }
        return false;
      }
      w.exec_simple("ROLLBACK TO weft_write");
    }
    w.exec_simple("RELEASE weft_write");
  }
  return true;
}

// COMMIT; if it fails (rolled back), every member that had succeeded gets its error: none
// of them is stored, and none is acknowledged as stored.
void GroupOp::commit(Connection& w, Counters& counters) {
  const auto began = std::chrono::steady_clock::now();
  try {
    w.exec_simple("COMMIT");
  } catch (...) {
    Error e = to_error(std::current_exception());
    if (w.in_transaction()) {
      try {
        w.exec_simple("ROLLBACK");
      } catch (...) {  // the COMMIT error is the one to report
      }
    }
    fail_pending(e);
    return;
  }
  counters.commit_ns.record(elapsed_ns(began));
  std::uint64_t ok = 0;
  for (auto& m : members_) ok += m->out_->ok() ? 1 : 0;
  counters.writes.fetch_add(ok, std::memory_order_relaxed);
}

// Every member without an error of its own gets `e`.
void GroupOp::fail_pending(const Error& e) {
  for (auto& m : members_) {
    if (!m->out_ || m->out_->ok()) m->out_.emplace(e);
  }
}

void GroupOp::deliver() {
  for_each_member(members_, [](StatementOp& m) { m.deliver(); });
}

void GroupOp::fail(Error e) {
  for_each_member(members_, [&e](StatementOp& m) { m.fail(e); });
}

}  // namespace weft::db::sqlite
