// The SQL weft-serve sends, per backend. Documents live in one table keyed by
// (collection, id): SQLite keeps the JSON as TEXT and reads it with its JSON functions;
// PostgreSQL keeps jsonb. Everything a request supplies (names, values, JSON paths) is a
// bound parameter, never spliced into SQL: the field paths that shape a statement are
// checked by parse_field_path and bound as parameters too.
#pragma once

#include "list_query.hpp"

#include <weft/db/migrate.hpp>
#include <weft/db/value.hpp>

#include <string>
#include <utility>
#include <vector>

namespace weft::serve {

enum class Backend : unsigned char { sqlite, postgres };

// A statement under construction: SQL text and its parameters, in order.
struct Sql {
  std::string text;
  db::Params params;
  Sql& add(std::string_view s) {
    text += s;
    return *this;
  }
  // Constructs the Value in place (a moved temporary Value trips GCC 12's
  // -Wmaybe-uninitialized on std::variant at -O2).
  template <class V>
  Sql& bind(V&& v) {
    params.emplace_back(std::forward<V>(v));
    return *this;
  }
};

struct Statements;

class Dialect {
 public:
  explicit Dialect(Backend b);
  Backend backend() const noexcept { return backend_; }

  std::vector<db::Migration> migrations() const;

  // PostgreSQL: the first statement of a transaction that locks a document row before it
  // writes (see the change feed's migration); "" on SQLite.
  std::string lock_changes() const;
  std::string get_doc() const;  // (collection, id) → doc
  // Stores doc with the collection's next integer id (its "id" set to it) → the stored doc;
  // no row when the collection does not exist.
  Sql insert_auto_id(const std::string& collection, std::string doc) const;
  std::string insert_with_id() const;     // (collection, id, num, doc) → doc
  std::string replace_doc() const;        // (doc, collection, id) → doc
  std::string select_for_update() const;  // (collection, id) → doc
  std::string update_doc() const;         // (doc, collection, id) → doc
  std::string merge_doc() const;          // SQLite: (patch, collection, id) → doc
  std::string delete_doc() const;         // (collection, id)
  std::string collection_exists() const;  // (name) → 1
  std::string create_collection() const;  // (name)
  std::string list_collections() const;   // → name, count
  std::string count_collections() const;  // → count
  // n rows of (collection, id, num, doc) in one INSERT.
  std::string insert_rows(std::size_t n) const;

  // SELECT doc, total for a list; `with_total` adds count(*) OVER () as the second column.
  Sql list(const std::string& collection, const ListQuery& q, const Window& w) const;
  Sql count(const std::string& collection, const ListQuery& q) const;

 private:
  void where(Sql& sql, const std::string& collection, const ListQuery& q) const;
  void filter(Sql& sql, const Filter& f) const;
  void compare(Sql& sql, const Filter& f, const std::string& value) const;
  void text_of(Sql& sql, const std::vector<std::string>& path) const;
  void number_of(Sql& sql, const std::vector<std::string>& path) const;
  void search(Sql& sql, const std::string& text) const;
  void order_by(Sql& sql, const ListQuery& q) const;
  db::Value path_param(const std::vector<std::string>& path) const;

  Backend backend_;
  const Statements* sql_;  // this backend's fixed statements (dialect.cpp)
};

// '%' + s with LIKE's wildcards escaped by '\' + '%'.
std::string contains_pattern(std::string_view s);

}  // namespace weft::serve
