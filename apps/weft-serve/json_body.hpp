// Request bodies: checked on the loop with simdjson, not rebuilt.
//
// A body is validated (and its "id" read) by simdjson's parser, then stored as the client
// sent it: the database normalizes it on its own thread (SQLite's json(), PostgreSQL's
// jsonb), and sets a new id there too. nlohmann-json, which can build and print
// documents, is ~16× slower to parse (docs/BENCHMARKS.md, bench_json) — on a 1 MiB body
// that would hold the loop for tens of milliseconds — so it only runs where a document
// must be built on the loop: to word a parse error (the failing byte and why), for the
// seed file at start-up, and for PostgreSQL's merge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::serve {

// A document id as stored: its key ("42" for 42 and for "42") and, for integers, the number.
struct DocId {
  std::string key;
  std::optional<std::int64_t> num;
};

struct ObjectBody {
  std::string error;            // empty: a valid JSON object
  bool has_id = false;          // the object has an "id" member
  std::optional<DocId> id;      // its value, when it is an integer or a non-empty string
};

// Checks that `text` is one JSON object and reads its "id".
ObjectBody check_object(std::string_view text);

}  // namespace weft::serve
