// Request bodies: checked on the loop with simdjson, not rebuilt.
//
// A body is validated (and its "id" read) by simdjson's parser, then stored as the client
// sent it: the database normalizes it on its own thread (SQLite's json(), PostgreSQL's
// jsonb), and sets a new id there too. nlohmann-json, which can build and print
// documents, is ~16× slower to parse (docs/BENCHMARKS.md, bench_json) — on a 1 MiB body
// that would hold the loop for tens of milliseconds — so it only runs where a document
// must be built on the loop: to word a parse error (the failing byte and why), for the
// seed file at start-up, and for PostgreSQL's merge.
//
// What is refused beyond RFC 8259's grammar, each with the reason and, where there is
// one, the byte (1-based): nesting deeper than 1,024 levels; a number out of range (an
// integer outside 64 bits, a number past a double's range); an object with a member name
// twice, at any depth (RFC 8259 §4 leaves the meaning to the reader, so clients would
// disagree on the document; I-JSON, RFC 7493 §2.3, forbids it). Ids: an integer id must
// be within ±(2^53 - 1), the integers every JSON client holds exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::serve {

// The largest integer id: 2^53 - 1 (JavaScript's Number.MAX_SAFE_INTEGER).
inline constexpr std::int64_t max_integer_id = (std::int64_t{1} << 53) - 1;

// A document id as stored: its key ("42" for 42 and for "42") and, when the key is an
// integer's canonical text within ±max_integer_id, that number (so that the next
// automatic id never takes a key a string id already holds).
struct DocId {
  std::string key;
  std::optional<std::int64_t> num;
};

struct ObjectBody {
  std::string error;        // empty: a valid JSON object
  bool has_id = false;      // the object has an "id" member
  std::optional<DocId> id;  // its value, when it is an integer or a non-empty string
  std::string id_error;     // has_id and no id: why the id is refused
  bool has_nul = false;     // a string or name holds U+0000 (PostgreSQL cannot store it)
};

// Checks that `text` is one JSON object and reads its "id".
ObjectBody check_object(std::string_view text);

// The number a key stands for when it is an integer's canonical text ("-7", not "07" or
// "+7") within ±max_integer_id; nullopt otherwise.
std::optional<std::int64_t> key_number(std::string_view key);

}  // namespace weft::serve
