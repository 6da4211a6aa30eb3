#include "store.hpp"

#include <weft/on_loop.hpp>

#include "uri.hpp"

#include <nlohmann/json.hpp>

#include <limits>
#include <stdexcept>

namespace weft::serve {
namespace {

using json = nlohmann::ordered_json;

}  // namespace

// SQLite's extended codes SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY, PostgreSQL's SQLSTATE 23505.
bool is_conflict(const db::Error& e) { return e.is_unique_violation(); }

namespace {

// An integer id within ±max_integer_id (json_body.hpp); nullopt for anything else.
std::optional<std::int64_t> integer_id(const json& id) {
  if (id.is_number_integer() && !id.is_number_unsigned()) {
    const std::int64_t n = id.get<std::int64_t>();
    if (n >= -max_integer_id && n <= max_integer_id) return n;
  }
  if (id.is_number_unsigned() &&
      id.get<std::uint64_t>() <= static_cast<std::uint64_t>(max_integer_id))
    return static_cast<std::int64_t>(id.get<std::uint64_t>());
  return std::nullopt;
}

// The seed's rows, checked before anything is written.
struct SeedRow {
  std::string collection, key, doc;
  std::optional<std::int64_t> num;
};

void check_seed_collection(const std::string& name, const json& items, std::vector<SeedRow>& rows) {
  if (!valid_collection_name(name)) throw BadSeed("invalid collection name " + quote_name(name));
  std::unordered_set<std::string> seen;
  std::int64_t next = 1;
  for (const json& item : items) {
    if (!item.is_object()) continue;
    if (auto it = item.find("id"); it != item.end()) {
      if (auto key = id_key(*it)) next = std::max(next, key_number(*key).value_or(0) + 1);
    }
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    json item = items[i];
    std::string where = name + "[" + std::to_string(i) + "]";
    if (!item.is_object()) throw BadSeed(where + " is not a JSON object");
    if (!item.contains("id")) item["id"] = next++;
    auto key = id_key(item["id"]);
    if (!key)
      throw BadSeed(where + ": id must be an integer within ±(2^53 - 1) or a non-empty string");
    if (!seen.insert(*key).second) throw BadSeed(where + ": duplicate id " + *key);
    rows.push_back({name, *key, item.dump(), key_number(*key)});
  }
}

constexpr std::size_t seed_batch = 250;  // rows per INSERT: 1,000 parameters

}  // namespace

bool valid_collection_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> id_key(const json& id) {
  if (auto n = integer_id(id)) return std::to_string(*n);
  if (id.is_string() && !id.get_ref<const std::string&>().empty()) return id.get<std::string>();
  return std::nullopt;
}

Store::Store(db::Database& db)
    : db_(db), dialect_(db.backend() == "sqlite" ? Backend::sqlite : Backend::postgres) {}

Task<void> Store::open() { co_await db::migrate(db_, dialect_.migrations()); }

Task<void> Store::lock_changes(db::Transaction& tx) {
  std::string sql = dialect_.lock_changes();
  if (sql.empty()) co_return;
  co_await tx.query(std::move(sql));
}

void Store::changed() {
  if (on_change_) on_change_();
}

Task<bool> Store::has_collection(std::string name) {
  if (known_.contains(name)) co_return true;
  if (!valid_collection_name(name)) co_return false;  // (PostgreSQL refuses a NUL in a parameter)
  auto rs = co_await db_.query(dialect_.collection_exists(), db::params(name));
  if (rs.empty()) co_return false;
  known_.insert(std::move(name));
  co_return true;
}

Task<std::vector<std::pair<std::string, std::int64_t>>> Store::collections() {
  auto rs = co_await db_.query(dialect_.list_collections());
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const db::Row& row : rs) out.emplace_back(row[0].as_text(), row[1].as_int());
  co_return out;
}

// Whether a document can exist under these names: a valid collection name, and (on
// PostgreSQL, whose text cannot hold U+0000 and refuses such a parameter) an id without NUL.
bool Store::addressable(const std::string& collection, const std::string& id) const {
  return valid_collection_name(collection) &&
         (backend() == Backend::sqlite || id.find('\0') == std::string::npos);
}

Task<std::optional<std::string>> Store::get(std::string collection, std::string id) {
  if (!addressable(collection, id)) co_return std::nullopt;
  auto rs =
      co_await db_.query(dialect_.get_doc(), db::params(std::move(collection), std::move(id)));
  if (rs.empty()) co_return std::nullopt;
  co_return rs.front()[0].as_text();
}

Task<ListPage> Store::list(std::string collection, ListQuery q, Window w) {
  Sql sql = dialect_.list(collection, q, w);
  auto rs = co_await db_.query(std::move(sql.text), std::move(sql.params));
  ListPage page;
  page.docs.reserve(rs.size());
  for (const db::Row& row : rs) page.docs.push_back(row[0].as_text());
  if (!rs.empty()) {
    page.total = rs.front()[1].as_int();
  } else if (w.offset > 0) {  // past the end: the window function saw no row to count
    Sql count = dialect_.count(collection, q);
    auto n = co_await db_.query(std::move(count.text), std::move(count.params));
    page.total = n.front()[0].as_int();
  }
  co_return page;
}

// (Plain statements around each co_await: GCC 12 loses a coroutine that has co_await in
// an if condition together with a co_return co_await in its branch.)
// The home Store's create(), awaited from this loop.
Task<std::string> Store::create_at_home(std::string collection, std::string doc, std::string key,
                                        std::optional<std::int64_t> num) {
  OnLoop<std::string> op =
      on_loop(*home_loop_, [h = home_, c = std::move(collection), d = std::move(doc),
                            k = std::move(key), num]() mutable {
        return h->create(std::move(c), std::move(d), DocId{std::move(k), num});
      });
  std::string stored = co_await op;
  co_return stored;
}

// The id travels as its two fields: GCC 12 corrupts a DocId (an aggregate holding a
// string) passed by value from one coroutine to another.
Task<std::string> Store::create(std::string collection, std::string doc, DocId id) {
  return home_ ? create_at_home(std::move(collection), std::move(doc), std::move(id.key), id.num)
               : create_here(std::move(collection), std::move(doc), std::move(id.key), id.num);
}

// (Plain statements around each co_await: GCC 12 loses a coroutine that has co_await in
// an if condition together with a co_return co_await in its branch.)
Task<std::string> Store::create_here(std::string collection, std::string doc, std::string key,
                                     std::optional<std::int64_t> num) {
  Task<bool> checking = has_collection(collection);
  const bool exists = co_await std::move(checking);
  if (!exists && !valid_collection_name(collection)) {
    throw std::invalid_argument("invalid collection name " + quote_name(collection) +
                                " (letters, digits, '_' and '-', at most 64)");
  }
  // Each Task is made in its own statement, so the arguments' temporaries end before the
  // suspension (GCC 12 keeps them on the stack across it inside an if/else).
  if (!exists) {
    // PostgreSQL runs transactions side by side: when two first documents race, the loser
    // of an assigned id finds the collection made and takes the plain path below.
    bool lost_race = false;
    try {
      Task<std::string> creating = insert_new_collection(collection, doc, key, num);
      std::string stored = co_await std::move(creating);
      co_return stored;
    } catch (const db::Error& e) {
      if (!is_conflict(e) || !key.empty()) throw;
      lost_race = true;
    }
    (void)lost_race;
  }
  Task<std::string> task = insert(std::move(collection), std::move(doc), std::move(key), num);
  std::string stored = co_await std::move(task);
  co_return stored;
}

// The statement that stores one document: with its own id, or with the next integer id.
static Sql insert_statement(const Dialect& d, const std::string& collection, std::string doc,
                            const std::string& key, std::optional<std::int64_t> num) {
  Sql sql;
  if (!key.empty()) {
    sql.add(d.insert_with_id()).bind(collection).bind(key).bind(num).bind(std::move(doc));
  } else {
    return d.insert_auto_id(collection, std::move(doc));
  }
  return sql;
}

Task<std::string> Store::insert(std::string collection, std::string doc, std::string key,
                                std::optional<std::int64_t> num) {
  // Two auto-id inserts can race on PostgreSQL: within one process only a first document's
  // transaction against a plain insert (writes otherwise share one ordered connection), but
  // also two weft-serve processes on one database. The loser's unique violation is retried
  // with the next id. SQLite's single writer (per file, across processes) never conflicts.
  for (int attempt = 0;; ++attempt) {
    bool conflict = false;
    try {
      Sql sql = insert_statement(dialect_, collection, doc, key, num);
      db::ResultSet rs = co_await db_.exec(std::move(sql.text), std::move(sql.params));
      if (rs.empty())
        throw std::runtime_error("collection '" + collection + "' is not in weft_collections");
      changed();
      co_return rs.front()[0].as_text();
    } catch (const db::Error& e) {
      if (!is_conflict(e)) throw;
      conflict = true;
    }
    if (conflict && (!key.empty() || attempt >= 5)) {
      throw Conflict(!key.empty() ? "an item with id " + quote_name(key) + " already exists in " +
                                        quote_name(collection)
                                  : "could not allocate a new id in " + quote_name(collection));
    }
  }
}

Task<std::string> Store::insert_new_collection(std::string collection, std::string doc,
                                               std::string key, std::optional<std::int64_t> num) {
  const Dialect& d = dialect_;
  // An explicit transaction, not db::Database::transaction() with a coroutine lambda: GCC
  // 12 corrupts this frame's strings with that form. A failure leaves `tx` unfinished, and
  // destroying it rolls back; a duplicate id surfaces as the db::Error (409 in rest.cpp).
  std::unique_ptr<db::Transaction> tx = co_await db_.begin();
  co_await lock_changes(*tx);
  co_await tx->exec(d.create_collection(), db::params(collection));
  Sql sql = insert_statement(d, collection, std::move(doc), key, num);
  db::ResultSet rs = co_await tx->exec(std::move(sql.text), std::move(sql.params));
  co_await tx->commit();
  changed();
  std::string stored = rs.front()[0].as_text();
  known_.insert(std::move(collection));
  co_return stored;
}

// The home Store's replace() or merge() (`merge`), awaited from this loop (see create_at).
static OnLoop<std::optional<std::string>> update_at(Store& home, Loop& home_loop, bool merge,
                                                    std::string collection, std::string id,
                                                    std::string doc) {
  return on_loop(home_loop, [&home, merge, c = std::move(collection), i = std::move(id),
                             d = std::move(doc)]() mutable {
    return merge ? home.merge(std::move(c), std::move(i), std::move(d))
                 : home.replace(std::move(c), std::move(i), std::move(d));
  });
}

static OnLoop<bool> remove_at(Store& home, Loop& home_loop, std::string collection,
                              std::string id) {
  return on_loop(home_loop, [&home, c = std::move(collection), i = std::move(id)]() mutable {
    return home.remove(std::move(c), std::move(i));
  });
}

Task<std::optional<std::string>> Store::replace(std::string collection, std::string id,
                                                std::string doc) {
  if (!addressable(collection, id)) co_return std::nullopt;
  if (home_) {
    std::optional<std::string> stored;
    OnLoop<std::optional<std::string>> op =
        update_at(*home_, *home_loop_, false, std::move(collection), std::move(id), std::move(doc));
    stored = co_await op;
    co_return stored;
  }
  auto rs = co_await db_.exec(dialect_.replace_doc(),
                              db::params(std::move(doc), std::move(collection), std::move(id)));
  if (rs.empty()) co_return std::nullopt;
  changed();
  co_return rs.front()[0].as_text();
}

Task<std::optional<std::string>> Store::merge(std::string collection, std::string id,
                                              std::string patch) {
  if (!addressable(collection, id)) co_return std::nullopt;
  if (home_) {
    std::optional<std::string> stored;
    OnLoop<std::optional<std::string>> op = update_at(
        *home_, *home_loop_, true, std::move(collection), std::move(id), std::move(patch));
    stored = co_await op;
    co_return stored;
  }
  if (backend() == Backend::postgres) {
    Task<std::optional<std::string>> merging =
        merge_in_transaction(std::move(collection), std::move(id), std::move(patch));
    std::optional<std::string> stored = co_await std::move(merging);
    co_return stored;
  }
  // SQLite's json_patch() is RFC 7396: one statement on the writer.
  auto rs = co_await db_.exec(dialect_.merge_doc(),
                              db::params(std::move(patch), std::move(collection), std::move(id)));
  if (rs.empty()) co_return std::nullopt;
  changed();
  co_return rs.front()[0].as_text();
}

// PostgreSQL has no RFC 7396 merge: read the document, merge it here, write it back, in
// one transaction (the read locks the row).
Task<std::optional<std::string>> Store::merge_in_transaction(std::string collection, std::string id,
                                                             std::string patch) {
  std::unique_ptr<db::Transaction> tx =
      co_await db_.begin();  // (explicit: see insert_new_collection)
  co_await lock_changes(*tx);
  db::ResultSet cur = co_await tx->query(dialect_.select_for_update(), db::params(collection, id));
  if (cur.empty()) {
    co_await tx->rollback();
    co_return std::nullopt;
  }
  json doc = json::parse(cur.front()[0].as_text());
  json stored_id = doc["id"];
  doc.merge_patch(json::parse(patch));
  doc["id"] = stored_id;
  db::ResultSet rs =
      co_await tx->exec(dialect_.update_doc(), db::params(doc.dump(), collection, id));
  co_await tx->commit();
  changed();
  std::optional<std::string> stored = rs.front()[0].as_text();
  co_return stored;
}

Task<bool> Store::remove(std::string collection, std::string id) {
  if (!addressable(collection, id)) co_return false;
  if (home_) {
    bool removed = false;
    OnLoop<bool> op = remove_at(*home_, *home_loop_, std::move(collection), std::move(id));
    removed = co_await op;
    co_return removed;
  }
  auto rs =
      co_await db_.exec(dialect_.delete_doc(), db::params(std::move(collection), std::move(id)));
  if (rs.rows_affected > 0) changed();
  co_return rs.rows_affected > 0;
}

Task<SeedReport> Store::seed(const json& file) {
  SeedReport report;
  if (!file.is_object()) throw BadSeed("the seed must be a JSON object of collections");
  auto existing = co_await db_.query(dialect_.count_collections());
  if (existing.front()[0].as_int() > 0) {
    report.skipped = true;
    co_return report;
  }
  std::vector<SeedRow> rows;
  std::vector<std::string> names;
  for (const auto& [name, value] : file.items()) {
    if (!value.is_array()) {
      report.warnings.push_back(
          "'" + name + "' is not an array (singular resources are not supported): skipped");
      continue;
    }
    check_seed_collection(name, value, rows);
    names.push_back(name);
  }
  std::unique_ptr<db::Transaction> tx =
      co_await db_.begin();  // (explicit: see insert_new_collection)
  co_await lock_changes(*tx);
  for (const std::string& name : names)
    co_await tx->exec(dialect_.create_collection(), db::params(name));
  for (std::size_t at = 0; at < rows.size(); at += seed_batch) {
    std::size_t n = std::min(seed_batch, rows.size() - at);
    db::Params p;
    p.reserve(n * 4);
    for (std::size_t i = at; i < at + n; ++i) {
      p.insert(p.end(), {rows[i].collection, rows[i].key, rows[i].num, rows[i].doc});
    }
    co_await tx->exec(dialect_.insert_rows(n), std::move(p));
  }
  co_await tx->commit();
  changed();
  for (std::string& name : names) known_.insert(std::move(name));
  report.collections = names.size();
  report.documents = rows.size();
  co_return report;
}

}  // namespace weft::serve
