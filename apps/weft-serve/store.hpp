// Store: collections of JSON documents over a db::Database (SQLite or PostgreSQL).
//
// A document is a JSON object with an "id" (an integer or a string; the store assigns the
// next integer when a new document has none). Documents keep their own text: a read sends
// the stored JSON as it is, without parsing it on the loop.
//
// Every write is one statement or one transaction, so a failure leaves nothing
// half-written: the first document of a new collection is stored in the same transaction
// that creates the collection; a merge reads and writes inside one transaction.
// Reads run concurrently on the database's readers (SQLite: on the pool, never on the
// loop thread); writes go through its one ordered writer.
//
// What the lanes guarantee (the contract README.md states): every statement ends within
// --statement-timeout-ms (SQLite's progress handler, PostgreSQL's statement_timeout), or
// fails with std::errc::timed_out (503) and frees its connection. SQLite's reads and its
// writer's jobs share the pool's `slow` class (at most half the I/O threads run at once,
// the rest wait in FIFO order); PostgreSQL's reads go to the idlest reader connection. So a
// read by id is never behind a scan for longer than the time limit per statement ahead of
// it: slow scans delay it, they cannot hold it indefinitely. (SQLite checks the limit
// between instructions: one LIKE over one large value runs to its end, which the
// --max-pattern bound keeps short.) Not guaranteed: a lane kept for point reads — a burst
// of scans still fills the `slow` class for up to one time limit each.
//
// Errors: a duplicate id throws Conflict; database failures throw db::Error; the coroutine
// that awaits them decides the status. Every member runs on the loop thread.
#pragma once

#include "dialect.hpp"
#include "json_body.hpp"
#include "list_query.hpp"

#include <weft/db/database.hpp>
#include <weft/function.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace weft::serve {

// A UNIQUE violation (the id is taken), not another constraint.
bool is_conflict(const db::Error& e);

struct Conflict : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A seed file was refused; the message names the collection and index at fault.
struct BadSeed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ListPage {
  std::vector<std::string> docs;  // JSON texts
  std::int64_t total = 0;         // matches before paging
};

struct SeedReport {
  bool skipped = false;  // the database already had collections
  std::size_t collections = 0;
  std::size_t documents = 0;
  std::vector<std::string> warnings;
};

// The key under which a document's id is stored ("42" for 42 and for "42"), or nullopt
// when the id is neither an integer nor a non-empty string.
std::optional<std::string> id_key(const nlohmann::ordered_json& id);

// Collection names: letters, digits, '_' and '-', 1 to 64 of them.
bool valid_collection_name(std::string_view name);

class Store {
 public:
  explicit Store(db::Database& db);

  Task<void> open();  // applies the schema migrations
  Task<bool> has_collection(std::string name);
  Task<std::vector<std::pair<std::string, std::int64_t>>> collections();
  Task<std::optional<std::string>> get(std::string collection, std::string id);
  Task<ListPage> list(std::string collection, ListQuery q, Window w);
  // The texts are JSON objects checked by check_object(). create() stores `doc` with `id`
  // (an empty id.key: the next integer id) and creates the collection when it does not exist yet.
  Task<std::string> create(std::string collection, std::string doc, DocId id);
  Task<std::optional<std::string>> replace(std::string collection, std::string id, std::string doc);
  // RFC 7396 JSON Merge Patch (null removes a member); the id never changes.
  Task<std::optional<std::string>> merge(std::string collection, std::string id, std::string patch);
  Task<bool> remove(std::string collection, std::string id);
  // Imports {"name": [objects...], ...} into an empty database, in one transaction.
  Task<SeedReport> seed(const nlohmann::ordered_json& file);

  Backend backend() const noexcept { return dialect_.backend(); }
  const Dialect& dialect() const noexcept { return dialect_; }

  // Called on this Store's loop after each write it committed (the change feed polls then:
  // the change rows are written by the database in the write's own transaction).
  void on_change(Function<void()> hook) { on_change_ = std::move(hook); }

  // Sends every write to `home` (another loop's Store of the same database) and awaits it
  // there: SQLite keeps one writer connection for the process while reads stay on this
  // loop's own connections. `home` must outlive this Store.
  void write_through(Store& home, Loop& home_loop) noexcept {
    home_ = &home;
    home_loop_ = &home_loop;
  }

 private:
  Task<std::string> create_at_home(std::string collection, std::string doc, std::string key,
                                   std::optional<std::int64_t> num);
  Task<std::string> create_here(std::string collection, std::string doc, std::string key,
                                std::optional<std::int64_t> num);
  Task<std::string> insert(std::string collection, std::string doc, std::string key,
                           std::optional<std::int64_t> num);
  Task<std::string> insert_new_collection(std::string collection, std::string doc, std::string key,
                                          std::optional<std::int64_t> num);
  Task<void> lock_changes(db::Transaction& tx);
  void changed();
  bool addressable(const std::string& collection, const std::string& id) const;
  Task<std::optional<std::string>> merge_in_transaction(std::string collection, std::string id,
                                                        std::string patch);

  db::Database& db_;
  Dialect dialect_;
  std::unordered_set<std::string> known_;  // collections known to exist (never removed)
  Store* home_ = nullptr;                  // writes go there when set
  Loop* home_loop_ = nullptr;
  Function<void()> on_change_;
};

}  // namespace weft::serve
