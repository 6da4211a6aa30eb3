#include "store.hpp"

#include <nlohmann/json.hpp>

#include <limits>

namespace weft::serve {
namespace {

using json = nlohmann::ordered_json;

// A UNIQUE violation (the id is taken), not another constraint: SQLite's extended codes
// SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY, PostgreSQL's SQLSTATE 23505.
bool is_conflict(const db::Error& e) {
  if (e.code() != db::errc::constraint) return false;
  const int code = e.backend_code();
  return code == 2067 || code == 1555 ||
         std::string_view(e.what()).find("duplicate key value") != std::string_view::npos;
}

std::optional<std::int64_t> integer_id(const json& id) {
  if (id.is_number_integer() && !id.is_number_unsigned()) return id.get<std::int64_t>();
  if (id.is_number_unsigned() && id.get<std::uint64_t>() <= std::numeric_limits<std::int64_t>::max())
    return static_cast<std::int64_t>(id.get<std::uint64_t>());
  return std::nullopt;
}

// The seed's rows, checked before anything is written.
struct SeedRow {
  std::string collection, key, doc;
  std::optional<std::int64_t> num;
};

void check_seed_collection(const std::string& name, const json& items, std::vector<SeedRow>& rows) {
  if (!valid_collection_name(name)) throw BadSeed("invalid collection name '" + name + "'");
  std::unordered_set<std::string> seen;
  std::int64_t next = 1;
  for (const json& item : items) {
    if (auto it = item.find("id"); item.is_object() && it != item.end()) {
      if (auto n = integer_id(*it)) next = std::max(next, *n + 1);
    }
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    json item = items[i];
    std::string where = name + "[" + std::to_string(i) + "]";
    if (!item.is_object()) throw BadSeed(where + " is not a JSON object");
    if (!item.contains("id")) item["id"] = next++;
    auto key = id_key(item["id"]);
    if (!key) throw BadSeed(where + ": id must be an integer or a non-empty string");
    if (!seen.insert(*key).second) throw BadSeed(where + ": duplicate id " + *key);
    rows.push_back({name, *key, item.dump(), integer_id(item["id"])});
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

Task<bool> Store::has_collection(std::string name) {
  if (known_.contains(name)) co_return true;
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

Task<std::optional<std::string>> Store::get(std::string collection, std::string id) {
  auto rs = co_await db_.query(dialect_.get_doc(), db::params(std::move(collection), std::move(id)));
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
Task<std::string> Store::create(std::string collection, std::string doc, std::optional<DocId> id) {
  const bool exists = co_await has_collection(collection);
  if (!exists && !valid_collection_name(collection)) {
    throw std::invalid_argument("invalid collection name '" + collection +
                                "' (letters, digits, '_' and '-', at most 64)");
  }
  std::string stored;
  if (exists) stored = co_await insert(std::move(collection), std::move(doc), std::move(id));
  else stored = co_await insert_new_collection(std::move(collection), std::move(doc), std::move(id));
  co_return stored;
}

// The statement that stores one document: with its own id, or with the next integer id.
static Sql insert_statement(const Dialect& d, const std::string& collection, std::string doc,
                     const std::optional<DocId>& id) {
  Sql sql;
  if (id) {
    sql.add(d.insert_with_id()).bind(collection).bind(id->key).bind(id->num).bind(std::move(doc));
  } else {
    sql.add(d.insert_auto_id()).bind(collection).bind(std::move(doc)).bind(collection);
  }
  return sql;
}

Task<std::string> Store::insert(std::string collection, std::string doc, std::optional<DocId> id) {
  // PostgreSQL may run two auto-id inserts at once on two connections: the loser's
  // unique violation is retried with the next id. SQLite's one writer never conflicts.
  for (int attempt = 0;; ++attempt) {
    bool conflict = false;
    try {
      Sql sql = insert_statement(dialect_, collection, doc, id);
      db::ResultSet rs = co_await db_.exec(std::move(sql.text), std::move(sql.params));
      co_return rs.front()[0].as_text();
    } catch (const db::Error& e) {
      if (!is_conflict(e)) throw;
      conflict = true;
    }
    if (conflict && (id || attempt >= 5)) {
      throw Conflict(id ? "an item with id " + id->key + " already exists in '" + collection + "'"
                        : "could not allocate a new id in '" + collection + "'");
    }
  }
}

Task<std::string> Store::insert_new_collection(std::string collection, std::string doc,
                                               std::optional<DocId> id) {
  const Dialect& d = dialect_;
  std::string stored;
  try {
    stored = co_await db_.transaction([&](db::Transaction& tx) -> Task<std::string> {
      co_await tx.exec(d.create_collection(), db::params(collection));
      Sql sql = insert_statement(d, collection, std::move(doc), id);
      db::ResultSet rs = co_await tx.exec(std::move(sql.text), std::move(sql.params));
      co_return rs.front()[0].as_text();
    });
  } catch (const db::Error& e) {
    if (!is_conflict(e)) throw;  // another connection created it first with this id
    throw Conflict("an item with id " + (id ? id->key : "?") + " already exists in '" + collection + "'");
  }
  known_.insert(std::move(collection));
  co_return stored;
}

Task<std::optional<std::string>> Store::replace(std::string collection, std::string id, std::string doc) {
  auto rs = co_await db_.exec(dialect_.replace_doc(),
                              db::params(std::move(doc), std::move(collection), std::move(id)));
  if (rs.empty()) co_return std::nullopt;
  co_return rs.front()[0].as_text();
}

Task<std::optional<std::string>> Store::merge(std::string collection, std::string id, std::string patch) {
  if (backend() == Backend::postgres) {
    co_return co_await merge_in_transaction(std::move(collection), std::move(id), std::move(patch));
  }
  // SQLite's json_patch() is RFC 7396: one statement on the writer.
  auto rs = co_await db_.exec(dialect_.merge_doc(),
                              db::params(std::move(patch), std::move(collection), std::move(id)));
  if (rs.empty()) co_return std::nullopt;
  co_return rs.front()[0].as_text();
}

// PostgreSQL has no RFC 7396 merge: read the document, merge it here, write it back, in
// one transaction (the read locks the row).
Task<std::optional<std::string>> Store::merge_in_transaction(std::string collection, std::string id,
                                                             std::string patch) {
  const Dialect& d = dialect_;
  co_return co_await db_.transaction(
      [&](db::Transaction& tx) -> Task<std::optional<std::string>> {
        auto cur = co_await tx.query(d.select_for_update(), db::params(collection, id));
        if (cur.empty()) co_return std::nullopt;
        json doc = json::parse(cur.front()[0].as_text());
        json stored_id = doc["id"];
        doc.merge_patch(json::parse(patch));
        doc["id"] = stored_id;
        auto rs = co_await tx.exec(d.update_doc(), db::params(doc.dump(), collection, id));
        co_return rs.front()[0].as_text();
      });
}

Task<bool> Store::remove(std::string collection, std::string id) {
  auto rs = co_await db_.exec(dialect_.delete_doc(), db::params(std::move(collection), std::move(id)));
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
      report.warnings.push_back("'" + name + "' is not an array (singular resources are not supported): skipped");
      continue;
    }
    check_seed_collection(name, value, rows);
    names.push_back(name);
  }
  const Dialect& d = dialect_;
  co_await db_.transaction([&](db::Transaction& tx) -> Task<void> {
    for (const std::string& name : names) co_await tx.exec(d.create_collection(), db::params(name));
    for (std::size_t at = 0; at < rows.size(); at += seed_batch) {
      std::size_t n = std::min(seed_batch, rows.size() - at);
      db::Params p;
      p.reserve(n * 4);
      for (std::size_t i = at; i < at + n; ++i) {
        p.insert(p.end(), {rows[i].collection, rows[i].key, rows[i].num, rows[i].doc});
      }
      co_await tx.exec(d.insert_rows(n), std::move(p));
    }
  });
  for (std::string& name : names) known_.insert(std::move(name));
  report.collections = names.size();
  report.documents = rows.size();
  co_return report;
}

}  // namespace weft::serve
