// The query string of GET /api/:collection, parsed (json-server's vocabulary):
//   field=value            documents whose field equals value (a repeated field: any of them);
//                          "a.b=1" reaches into nested objects
//   field_ne / _gte / _lte / _like=value
//                          not equal / >= / <= (numbers compare as numbers, other values as
//                          text) / contains value, case-insensitive (json-server: a regex)
//   q=text                 any string value of the document contains text (case-insensitive)
//   _sort=f1,f2 & _order=asc,desc    order (then insertion order)
//   _page=P & _limit=L     page P (1-based) of L (default 10) documents, with Link headers
//   _start=S & _end=E | _limit=L     a slice; _limit alone: the first L
// Every list response carries X-Total-Count (the matches before paging). Anything else that
// starts with '_' is refused, so a typo is an error rather than a silently ignored filter.
// Pure: no I/O, values percent-decoded ('+' is a space).
//
// Limits (QueryLimits, each a weft-serve flag): every filter value is a condition in the
// statement and every sort key an ORDER BY term, so their numbers are bounded (SQLite
// refuses expressions deeper than 1,000 and the work grows with them); a _like or q
// pattern is matched against every string the scan reads, at a cost proportional to its
// length, so it is bounded too. _page × _limit past 2^63 - 1 is refused (no wrap-around).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace weft::serve {

enum class FilterOp : unsigned char { eq, ne, gte, lte, like };

struct Filter {
  std::vector<std::string> path;  // "a.b" → {"a", "b"}
  FilterOp op = FilterOp::eq;
  std::vector<std::string> values;  // eq: any of them; other ops: each must hold
};

struct SortKey {
  std::vector<std::string> path;
  bool descending = false;
};

struct ListQuery {
  std::vector<Filter> filters;
  std::string search;  // q
  std::vector<SortKey> sort;
  std::optional<std::int64_t> page, limit, start, end;
};

// Which documents of the sorted matches a response holds.
struct Window {
  std::int64_t offset = 0;
  std::optional<std::int64_t> limit;  // nullopt: to the end
  bool paged = false;                 // _page was given: Link headers
  bool capped = false;                // limit came from --max-list, not from the request
};

struct QueryLimits {
  std::size_t max_filters = 64;   // filter values (conditions) in all: --max-filters
  std::size_t max_sort = 16;      // _sort keys: --max-sort
  std::size_t max_pattern = 256;  // bytes of one _like value or of q: --max-pattern
};

// A ListQuery, or a message for a 400 naming the parameter at fault.
using ParsedQuery = std::variant<ListQuery, std::string>;
ParsedQuery parse_list_query(std::string_view raw_query, const QueryLimits& limits = {});

// The window for a query parse_list_query accepted; max_list caps an unpaged list (0: no cap).
Window window_of(const ListQuery& q, std::size_t max_list);

// A field path ("a.b.c") split and checked: segments of letters, digits, '_', '-' and '$'.
std::optional<std::vector<std::string>> parse_field_path(std::string_view s);

// The raw query with parameter `name` set to `value` (replacing it where present); the
// other parameters kept in their order, every name and value percent-encoded (RFC 3986:
// all but unreserved characters). For Link headers.
std::string with_param(std::string_view raw_query, std::string_view name, std::string_view value);

}  // namespace weft::serve
