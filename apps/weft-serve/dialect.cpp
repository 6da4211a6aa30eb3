#include "dialect.hpp"

#include <charconv>

namespace weft::serve {
namespace {

bool is_sqlite(Backend b) { return b == Backend::sqlite; }

std::optional<double> as_number(const std::string& s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string contains_pattern(std::string_view s) {
  std::string out = "%";
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

// Migrations that make existing data fit the id rules of json_body.hpp: `num` is set for
// every key that is an integer's canonical text within ±(2^53 - 1) (string ids "7"
// included) and cleared outside that range, so the next automatic id is computed from the
// keys that can collide with it; a counter pushed past the range is reset.
constexpr const char* sqlite_num_backfill =
    "UPDATE weft_documents SET num = CAST(id AS INTEGER) WHERE num IS NULL"
    " AND CAST(CAST(id AS INTEGER) AS TEXT) = id AND abs(CAST(id AS INTEGER)) <= 9007199254740991;"
    "UPDATE weft_documents SET num = NULL"
    " WHERE num > 9007199254740991 OR num < -9007199254740991";
constexpr const char* postgres_num_backfill =
    "UPDATE weft_documents SET num = id::bigint WHERE num IS NULL"
    " AND CASE WHEN id ~ '^(0|-?[1-9][0-9]{0,15})$'"
    " THEN id::bigint BETWEEN -9007199254740991 AND 9007199254740991 ELSE false END;"
    "UPDATE weft_documents SET num = NULL"
    " WHERE num > 9007199254740991 OR num < -9007199254740991;"
    "UPDATE weft_collections SET next_id = 0 WHERE next_id > 9007199254740991";

// The next automatic id of collection ?1 given m, the largest id in use: m + 1 while that
// stays within 2^53 - 1; past it (a client chose an id near the top), the smallest free
// positive id, found by scanning the (collection, num) index for a gap. Either way the
// key is free: every key that is an integer's text has its num (see the migrations).
constexpr const char* next_id_after_m =
    "CASE WHEN m < 9007199254740991 THEN m + 1"
    " WHEN NOT EXISTS (SELECT 1 FROM weft_documents WHERE collection = ?1 AND num = 1) THEN 1"
    " ELSE (SELECT MIN(a.num) + 1 FROM weft_documents a WHERE a.collection = ?1 AND a.num >= 1"
    " AND a.num < 9007199254740991 AND NOT EXISTS (SELECT 1 FROM weft_documents b"
    " WHERE b.collection = ?1 AND b.num = a.num + 1)) END";

// The change feed (feed.hpp): every write to weft_documents adds a row to weft_changes in
// the same transaction (a trigger), so a change is committed, or rolled back, with its
// write. weft_feed.pruned_through: the last id removed by pruning (older cursors reload).
// SQLite has one writer per file: AUTOINCREMENT ids are in commit order and never reused.
constexpr const char* sqlite_changes =
    "CREATE TABLE weft_changes(id INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL,"
    " doc_id TEXT NOT NULL, num INTEGER, op TEXT NOT NULL, doc TEXT);"
    "CREATE INDEX weft_changes_collection ON weft_changes(collection, id);"
    "CREATE TABLE weft_feed(pruned_through INTEGER NOT NULL);"
    "INSERT INTO weft_feed VALUES(0);"
    "CREATE TRIGGER weft_changes_create AFTER INSERT ON weft_documents BEGIN"
    " INSERT INTO weft_changes(collection, doc_id, num, op, doc)"
    " VALUES(NEW.collection, NEW.id, NEW.num, 'create', NEW.doc); END;"
    "CREATE TRIGGER weft_changes_update AFTER UPDATE ON weft_documents BEGIN"
    " INSERT INTO weft_changes(collection, doc_id, num, op, doc)"
    " VALUES(NEW.collection, NEW.id, NEW.num, 'update', NEW.doc); END;"
    "CREATE TRIGGER weft_changes_delete AFTER DELETE ON weft_documents BEGIN"
    " INSERT INTO weft_changes(collection, doc_id, num, op, doc)"
    " VALUES(OLD.collection, OLD.id, OLD.num, 'delete', NULL); END";

// PostgreSQL runs writing transactions side by side (several connections, several
// instances), and a sequence hands out ids in the order of the calls, not of the commits:
// a reader tailing "id > last" could pass an id whose transaction commits later. So every
// statement that writes documents first takes a transaction-level advisory lock (one per
// schema), held until its commit: ids are then assigned in commit order, and the rows a
// reader sees are always a prefix of the ids (rolled-back ids are gaps that stay gaps).
// Transactions that lock a document row before writing take the lock first
// (Dialect::lock_changes), so two writers never wait for each other in opposite orders.
// Each change is announced with NOTIFY weft_changes '<id> <collection>', which PostgreSQL
// delivers only at commit and in commit order; the document itself is never in it (NOTIFY
// payloads stop at 8000 bytes): listeners read the rows by id.
constexpr const char* postgres_changes =
    "CREATE SEQUENCE weft_changes_id;"
    "CREATE TABLE weft_changes(id BIGINT PRIMARY KEY, collection TEXT NOT NULL,"
    " doc_id TEXT NOT NULL, num BIGINT, op TEXT NOT NULL, doc JSONB);"
    "CREATE INDEX weft_changes_collection ON weft_changes(collection, id);"
    "CREATE TABLE weft_feed(pruned_through BIGINT NOT NULL);"
    "INSERT INTO weft_feed VALUES(0);"
    "CREATE FUNCTION weft_changes_lock() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " PERFORM pg_advisory_xact_lock(hashtext('weft_changes.' || current_schema())); RETURN NULL;"
    " END $$;"
    "CREATE FUNCTION weft_changes_record() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE n BIGINT := nextval('weft_changes_id'); BEGIN"
    " IF TG_OP = 'DELETE' THEN"
    "  INSERT INTO weft_changes VALUES(n, OLD.collection, OLD.id, OLD.num, 'delete', NULL);"
    "  PERFORM pg_notify('weft_changes', n || ' ' || OLD.collection);"
    " ELSE"
    "  INSERT INTO weft_changes VALUES(n, NEW.collection, NEW.id, NEW.num,"
    "   CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END, NEW.doc);"
    "  PERFORM pg_notify('weft_changes', n || ' ' || NEW.collection);"
    " END IF; RETURN NULL; END $$;"
    "CREATE TRIGGER weft_changes_lock BEFORE INSERT OR UPDATE OR DELETE ON weft_documents"
    " FOR EACH STATEMENT EXECUTE FUNCTION weft_changes_lock();"
    "CREATE TRIGGER weft_changes_record AFTER INSERT OR UPDATE OR DELETE ON weft_documents"
    " FOR EACH ROW EXECUTE FUNCTION weft_changes_record()";

// The fixed statements of each backend, one table each (the builders below branch where
// the shape of the SQL differs).
struct Statements {
  std::vector<db::Migration> (*migrations)();
  const char* get_doc;
  const char* select_for_update;
  const char* insert_with_id;
  const char* replace_doc;
  const char* update_doc;
  const char* row;         // one row of insert_rows
  const char* doc_column;  // the document as text in a result
};

namespace {

std::vector<db::Migration> sqlite_migrations() {
  return {{1,
           "CREATE TABLE weft_collections(name TEXT PRIMARY KEY);"
           "CREATE TABLE weft_documents(seq INTEGER PRIMARY KEY,"
           " collection TEXT NOT NULL REFERENCES weft_collections(name),"
           " id TEXT NOT NULL, num INTEGER, doc TEXT NOT NULL CHECK (json_valid(doc)),"
           " UNIQUE(collection, id));"
           "CREATE INDEX weft_documents_num ON weft_documents(collection, num)"},
          {2, sqlite_num_backfill},
          {3, sqlite_changes}};
}

std::vector<db::Migration> postgres_migrations() {
  return {{1,
           "CREATE TABLE weft_collections(name TEXT PRIMARY KEY);"
           "CREATE TABLE weft_documents(seq BIGSERIAL PRIMARY KEY,"
           " collection TEXT NOT NULL REFERENCES weft_collections(name),"
           " id TEXT NOT NULL, num BIGINT, doc JSONB NOT NULL, UNIQUE(collection, id));"
           "CREATE INDEX weft_documents_num ON weft_documents(collection, num)"},
          // The last auto-assigned id of each collection (see insert_auto_id).
          {2, "ALTER TABLE weft_collections ADD COLUMN next_id BIGINT NOT NULL DEFAULT 0"},
          {3, postgres_num_backfill},
          {4, postgres_changes}};
}

// The stored id (its JSON type included) survives a replacement (replace_doc).
constexpr Statements sqlite_statements{
    sqlite_migrations,
    "SELECT doc FROM weft_documents WHERE collection = ? AND id = ?",
    "SELECT doc FROM weft_documents WHERE collection = ? AND id = ?",
    "INSERT INTO weft_documents(collection, id, num, doc) VALUES(?, ?, ?, json(?)) RETURNING doc",
    "UPDATE weft_documents SET doc = json_set(?, '$.id', json_extract(doc, '$.id'))"
    " WHERE collection = ? AND id = ? RETURNING doc",
    "UPDATE weft_documents SET doc = json(?) WHERE collection = ? AND id = ? RETURNING doc",
    "(?, ?, ?, json(?))",
    "doc",
};

constexpr Statements postgres_statements{
    postgres_migrations,
    "SELECT doc::text FROM weft_documents WHERE collection = ? AND id = ?",
    "SELECT doc::text FROM weft_documents WHERE collection = ? AND id = ? FOR UPDATE",
    "INSERT INTO weft_documents(collection, id, num, doc) VALUES(?, ?, ?, ?::jsonb) RETURNING "
    "doc::text",
    "UPDATE weft_documents SET doc = jsonb_set(?::jsonb, '{id}', doc -> 'id')"
    " WHERE collection = ? AND id = ? RETURNING doc::text",
    "UPDATE weft_documents SET doc = ?::jsonb WHERE collection = ? AND id = ? RETURNING doc::text",
    "(?, ?, ?, ?::jsonb)",
    "doc::text",
};

}  // namespace

Dialect::Dialect(Backend b)
    : backend_(b), sql_(is_sqlite(b) ? &sqlite_statements : &postgres_statements) {}

std::vector<db::Migration> Dialect::migrations() const { return sql_->migrations(); }

std::string Dialect::lock_changes() const {
  return is_sqlite(backend_)
             ? ""
             : "SELECT pg_advisory_xact_lock(hashtext('weft_changes.' || current_schema()))";
}

std::string Dialect::get_doc() const { return sql_->get_doc; }

Sql Dialect::insert_auto_id(const std::string& collection, std::string doc) const {
  Sql sql;
  if (is_sqlite(backend_)) {
    // One past the largest integer id (an index range scan, not a count): SQLite's single
    // writer makes that race-free.
    sql.add(
           "INSERT INTO weft_documents(collection, id, num, doc)"
           " SELECT ?1, CAST(n AS TEXT), n, json_set(?2, '$.id', n) FROM (SELECT ")
        .add(next_id_after_m)
        .add(
            " AS n FROM (SELECT COALESCE(MAX(num), 0) AS m FROM weft_documents WHERE collection = "
            "?1))"
            " RETURNING doc");
    return sql.bind(collection).bind(std::move(doc));
  }
  // PostgreSQL runs writers side by side (other connections, other processes): the
  // collection's counter row is updated in the same statement, so concurrent inserts queue
  // on its row lock and each sees the last committed value; the largest integer id keeps it
  // ahead of ids that clients chose. A conflict is left only with a client-chosen id
  // inserted at the same moment (the caller retries).
  sql.add("WITH c AS (UPDATE weft_collections SET next_id = (SELECT ")
      .add(next_id_after_m)
      .add(
          " FROM (SELECT GREATEST(weft_collections.next_id, (SELECT COALESCE(MAX(num), 0)"
          " FROM weft_documents WHERE collection = ?1)) AS m) g)"
          " WHERE name = ?1 RETURNING next_id AS n)"
          " INSERT INTO weft_documents(collection, id, num, doc)"
          " SELECT ?1, n::text, n, jsonb_set(?2::jsonb, '{id}', to_jsonb(n)) FROM c"
          " RETURNING doc::text");
  return sql.bind(collection).bind(std::move(doc));
}

std::string Dialect::insert_with_id() const { return sql_->insert_with_id; }

std::string Dialect::replace_doc() const { return sql_->replace_doc; }

std::string Dialect::select_for_update() const { return sql_->select_for_update; }

std::string Dialect::update_doc() const { return sql_->update_doc; }

std::string Dialect::merge_doc() const {
  return "UPDATE weft_documents SET doc = json_set(json_patch(doc, ?), '$.id', json_extract(doc, "
         "'$.id'))"
         " WHERE collection = ? AND id = ? RETURNING doc";
}

std::string Dialect::delete_doc() const {
  return "DELETE FROM weft_documents WHERE collection = ? AND id = ?";
}

std::string Dialect::collection_exists() const {
  return "SELECT 1 FROM weft_collections WHERE name = ?";
}

std::string Dialect::create_collection() const {
  return "INSERT INTO weft_collections(name) VALUES(?) ON CONFLICT DO NOTHING";
}

std::string Dialect::list_collections() const {
  return "SELECT c.name, (SELECT count(*) FROM weft_documents d WHERE d.collection = c.name)"
         " FROM weft_collections c ORDER BY c.name";
}

std::string Dialect::count_collections() const { return "SELECT count(*) FROM weft_collections"; }

std::string Dialect::insert_rows(std::size_t n) const {
  std::string sql = "INSERT INTO weft_documents(collection, id, num, doc) VALUES";
  for (std::size_t i = 0; i < n; ++i) sql += std::string(i ? "," : "") + sql_->row;
  return sql;
}

db::Value Dialect::path_param(const std::vector<std::string>& path) const {
  std::string p = is_sqlite(backend_) ? "$" : "{";
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (is_sqlite(backend_))
      p += ".\"" + path[i] + "\"";
    else
      p += (i ? "," : "") + path[i];
  }
  return is_sqlite(backend_) ? p : p + "}";
}

// A field as text: strings unquoted, everything else as its JSON text (12.5, true, null).
void Dialect::text_of(Sql& sql, const std::vector<std::string>& path) const {
  if (is_sqlite(backend_)) {
    sql.add("(CASE json_type(doc, ?) WHEN 'text' THEN json_extract(doc, ?) ELSE doc -> ? END)");
    for (int i = 0; i < 3; ++i) sql.bind(path_param(path));
  } else {
    sql.add("(doc #>> ?::text[])").bind(path_param(path));
  }
}

// A field as a number, NULL when it is not one.
void Dialect::number_of(Sql& sql, const std::vector<std::string>& path) const {
  if (is_sqlite(backend_)) {
    sql.add("(CASE WHEN json_type(doc, ?) IN ('integer', 'real') THEN json_extract(doc, ?) END)");
    sql.bind(path_param(path)).bind(path_param(path));
  } else {
    sql.add(
        "(CASE WHEN jsonb_typeof(doc #> ?::text[]) = 'number'"
        " THEN (doc #>> ?::text[])::float8 END)");
    sql.bind(path_param(path)).bind(path_param(path));
  }
}

void Dialect::compare(Sql& sql, const Filter& f, const std::string& value) const {
  const bool sqlite = is_sqlite(backend_);
  auto number = as_number(value);
  if ((f.op == FilterOp::gte || f.op == FilterOp::lte) && number) {
    number_of(sql, f.path);
    sql.add(f.op == FilterOp::gte ? " >= ?" : " <= ?").bind(*number);
    return;
  }
  text_of(sql, f.path);
  switch (f.op) {
    case FilterOp::ne:
      sql.add(sqlite ? " IS NOT ?" : " IS DISTINCT FROM ?").bind(value);
      break;
    case FilterOp::gte:
      sql.add(" >= ?").bind(value);
      break;
    case FilterOp::lte:
      sql.add(" <= ?").bind(value);
      break;
    case FilterOp::like:
      sql.add(sqlite ? " LIKE ? ESCAPE '\\'" : " ILIKE ? ESCAPE '\\'")
          .bind(contains_pattern(value));
      break;
    case FilterOp::eq:
      sql.add(" = ?").bind(value);
      break;
  }
}

void Dialect::filter(Sql& sql, const Filter& f) const {
  // Equality with several values: any of them; the other operators: all of them.
  const char* join = f.op == FilterOp::eq ? " OR " : " AND ";
  sql.add(" AND (");
  for (std::size_t i = 0; i < f.values.size(); ++i) {
    if (i) sql.add(join);
    compare(sql, f, f.values[i]);
  }
  sql.add(")");
}

void Dialect::search(Sql& sql, const std::string& text) const {
  if (is_sqlite(backend_)) {
    sql.add(
        " AND EXISTS (SELECT 1 FROM json_tree(weft_documents.doc) t"
        " WHERE t.type = 'text' AND t.value LIKE ? ESCAPE '\\')");
  } else {
    sql.add(
        " AND EXISTS (SELECT 1 FROM jsonb_path_query(doc, 'strict $.**') v"
        " WHERE jsonb_typeof(v) = 'string' AND v #>> '{}' ILIKE ? ESCAPE '\\')");
  }
  sql.bind(contains_pattern(text));
}

void Dialect::where(Sql& sql, const std::string& collection, const ListQuery& q) const {
  sql.add(" FROM weft_documents WHERE collection = ?").bind(collection);
  for (const Filter& f : q.filters) filter(sql, f);
  if (!q.search.empty()) search(sql, q.search);
}

void Dialect::order_by(Sql& sql, const ListQuery& q) const {
  sql.add(" ORDER BY ");
  for (const SortKey& k : q.sort) {
    sql.add(is_sqlite(backend_) ? "json_extract(doc, ?)" : "(doc #> ?::text[])");
    sql.bind(path_param(k.path)).add(k.descending ? " DESC, " : " ASC, ");
  }
  sql.add("seq");
}

Sql Dialect::list(const std::string& collection, const ListQuery& q, const Window& w) const {
  Sql sql;
  sql.add("SELECT ").add(sql_->doc_column).add(", count(*) OVER ()");
  where(sql, collection, q);
  order_by(sql, q);
  if (w.limit)
    sql.add(" LIMIT ?").bind(*w.limit);
  else if (is_sqlite(backend_))
    sql.add(" LIMIT -1");
  sql.add(" OFFSET ?").bind(w.offset);
  return sql;
}

Sql Dialect::count(const std::string& collection, const ListQuery& q) const {
  Sql sql;
  sql.add("SELECT count(*)");
  where(sql, collection, q);
  return sql;
}

}  // namespace weft::serve
