// Schema migrations (see migrate.hpp).
#include <weft/db/migrate.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>
#include <stdexcept>
#include <string>

namespace weft::db {
namespace {

std::string utc_now_iso8601() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void check_versions(std::vector<Migration>& steps) {
  std::sort(steps.begin(), steps.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].version <= 0) throw std::invalid_argument("migrate: versions must be positive");
    if (i > 0 && steps[i].version == steps[i - 1].version) {
      throw std::invalid_argument("migrate: version " + std::to_string(steps[i].version) +
                                  " is listed twice");
    }
  }
}

// Applies one step in its own transaction; false if it was applied meanwhile.
Task<bool> apply_step(Database& db, const Migration& step) {
  bool applied = false;
  auto body = [&](Transaction& tx) -> Task<void> {
    ResultSet seen =
        co_await tx.query("SELECT 1 FROM weft_migrations WHERE version = ?", params(step.version));
    if (!seen.empty()) co_return;
    co_await tx.exec(step.sql);
    co_await tx.exec("INSERT INTO weft_migrations(version, applied_at) VALUES(?, ?)",
                     params(step.version, utc_now_iso8601()));
    applied = true;
  };
  co_await db.transaction(body);
  co_return applied;
}

}  // namespace

Task<std::size_t> migrate(Database& db, std::vector<Migration> steps) {
  check_versions(steps);
  co_await db.exec(
      "CREATE TABLE IF NOT EXISTS weft_migrations("
      "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  std::set<std::int64_t> done;
  ResultSet rows = co_await db.exec("SELECT version FROM weft_migrations");
  for (const Row& row : rows) done.insert(row[0].as_int());

  std::size_t applied = 0;
  for (const Migration& step : steps) {
    if (done.count(step.version)) continue;
    std::optional<Error> failure;
    try {
      if (co_await apply_step(db, step)) ++applied;
    } catch (const Error& e) {
      failure.emplace(e);
    }
    if (failure) {
      throw Error(make_error_code(errc::migration_failed),
                  "migration " + std::to_string(step.version) +
                      " failed and was rolled back: " + failure->what(),
                  failure->backend_code());
    }
  }
  co_return applied;
}

}  // namespace weft::db
