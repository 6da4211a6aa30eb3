#include "list_query.hpp"

#include "uri.hpp"

#include <charconv>

namespace weft::serve {
namespace {

bool is_field_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '$';
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

std::optional<std::int64_t> parse_count(std::string_view s) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// Splits "price_gte" into ("price", gte); a name without a known suffix is an equality.
std::pair<std::string_view, FilterOp> split_operator(std::string_view key) {
  static constexpr std::pair<std::string_view, FilterOp> suffixes[] = {{"_ne", FilterOp::ne},
                                                                       {"_gte", FilterOp::gte},
                                                                       {"_lte", FilterOp::lte},
                                                                       {"_like", FilterOp::like}};
  for (auto [suffix, op] : suffixes) {
    if (key.size() > suffix.size() && key.ends_with(suffix)) {
      return {key.substr(0, key.size() - suffix.size()), op};
    }
  }
  return {key, FilterOp::eq};
}

struct Parser {
  explicit Parser(const QueryLimits& l) : limits(l) {}
  const QueryLimits& limits;
  ListQuery q;
  std::vector<std::string> orders;
  std::string error;
  std::size_t conditions = 0;

  bool too_many(const char* what, std::size_t limit, const char* flag) {
    error =
        std::string("too many ") + what + ": at most " + std::to_string(limit) + " (" + flag + ")";
    return false;
  }

  bool pattern(std::string_view name, const std::string& v) {
    if (v.size() <= limits.max_pattern) return true;
    error = std::string(name) + " is " + std::to_string(v.size()) + " bytes long: at most " +
            std::to_string(limits.max_pattern) + " (--max-pattern)";
    return false;
  }

  bool count(std::optional<std::int64_t>& into, std::string_view name, const std::string& v) {
    into = parse_count(v);
    if (!into) error = std::string(name) + " must be a non-negative integer, not " + quote_name(v);
    return into.has_value();
  }

  bool sort(const std::string& v) {
    for (std::string_view part : split(v, ',')) {
      if (q.sort.size() >= limits.max_sort)
        return too_many("_sort keys", limits.max_sort, "--max-sort");
      auto path = parse_field_path(part);
      if (!path) return bad("_sort", std::string(part));
      q.sort.push_back({std::move(*path), false});
    }
    return true;
  }

  bool filter(std::string_view key, std::string value) {
    auto [field, op] = split_operator(key);
    auto path = parse_field_path(field);
    if (!path) return bad("field name", std::string(key));
    if (++conditions > limits.max_filters)
      return too_many("filter values", limits.max_filters, "--max-filters");
    if (op == FilterOp::like && !pattern(key, value)) return false;
    for (Filter& f : q.filters) {
      if (f.path == *path && f.op == op) {
        f.values.push_back(std::move(value));
        return true;
      }
    }
    q.filters.push_back({std::move(*path), op, {std::move(value)}});
    return true;
  }

  bool bad(const char* what, const std::string& v) {
    error = std::string("invalid ") + what + " " + quote_name(v);
    return false;
  }

  bool reserved(std::string_view key, const std::string& v) {
    if (key == "_sort") return sort(v);
    if (key == "_order") {
      for (std::string_view o : split(v, ',')) orders.emplace_back(o);
      return true;
    }
    if (key == "_page") return count(q.page, "_page", v);
    if (key == "_limit") return count(q.limit, "_limit", v);
    if (key == "_start") return count(q.start, "_start", v);
    if (key == "_end") return count(q.end, "_end", v);
    error = "unsupported parameter " + quote_name(key) +
            " (weft-serve knows _sort, _order, _page, _limit, _start, _end)";
    return false;
  }

  bool pair(std::string_view raw) {
    if (raw.empty()) return true;
    auto eq = raw.find('=');
    auto key = decode_component(raw.substr(0, eq));
    auto value = decode_component(eq == std::string_view::npos ? "" : raw.substr(eq + 1));
    if (!key || !value) return bad("percent-encoding in", std::string(raw));
    if (key->starts_with('_')) return reserved(*key, *value);
    if (*key == "q") {
      if (!pattern("q", *value)) return false;
      q.search = std::move(*value);
      return true;
    }
    return filter(*key, std::move(*value));
  }

  bool apply_orders() {
    if (orders.size() > q.sort.size()) {
      error = "_order has more entries than _sort";
      return false;
    }
    for (std::size_t i = 0; i < orders.size(); ++i) {
      if (orders[i] == "desc")
        q.sort[i].descending = true;
      else if (orders[i] != "asc")
        return bad("_order (asc or desc)", orders[i]);
    }
    return true;
  }
};

}  // namespace

std::optional<std::vector<std::string>> parse_field_path(std::string_view s) {
  std::vector<std::string> path;
  for (std::string_view seg : split(s, '.')) {
    if (seg.empty() || seg.size() > 128) return std::nullopt;
    for (char c : seg) {
      if (!is_field_char(c)) return std::nullopt;
    }
    path.emplace_back(seg);
  }
  if (path.size() > 16) return std::nullopt;
  return path;
}

// (page - 1) × limit, the offset of a page, when it fits in 63 bits.
static std::optional<std::int64_t> page_offset(std::int64_t page, std::int64_t limit) {
  std::int64_t offset = 0;
  if (__builtin_mul_overflow(page - 1, limit, &offset)) return std::nullopt;
  return offset;
}

ParsedQuery parse_list_query(std::string_view raw_query, const QueryLimits& limits) {
  Parser p(limits);
  for (std::string_view raw : split(raw_query, '&')) {
    if (!p.pair(raw)) return p.error;
  }
  if (!p.apply_orders()) return p.error;
  if (p.q.page && *p.q.page == 0) return std::string("_page starts at 1");
  if (p.q.page && !page_offset(*p.q.page, p.q.limit.value_or(10))) {
    return std::string("(_page - 1) * _limit is past 2^63 - 1: no such page");
  }
  if (p.q.start && p.q.end && *p.q.end < *p.q.start) return std::string("_end is before _start");
  return std::move(p.q);
}

Window window_of(const ListQuery& q, std::size_t max_list) {
  Window w;
  if (q.page) {
    std::int64_t size = q.limit.value_or(10);
    w.offset = page_offset(*q.page, size).value_or(0);  // (checked by parse_list_query)
    w.limit = size;
    w.paged = true;
    return w;
  }
  w.offset = q.start.value_or(0);
  if (q.end)
    w.limit = *q.end - w.offset;
  else if (q.limit)
    w.limit = *q.limit;
  if (!w.limit && max_list > 0) {
    w.limit = static_cast<std::int64_t>(max_list);
    w.capped = true;
  }
  return w;
}

// Each parameter is decoded and encoded again: a value the client sent raw (or with '+'
// for a space) comes back percent-encoded, so nothing in it can end a Link's <...>.
std::string with_param(std::string_view raw_query, std::string_view name, std::string_view value) {
  std::string out;
  bool replaced = false;
  auto append = [&out](std::string_view k, std::string_view v) {
    if (!out.empty()) out += '&';
    out += encode_query_component(k) + "=" + encode_query_component(v);
  };
  for (std::string_view raw : split(raw_query, '&')) {
    if (raw.empty()) continue;
    auto eq = raw.find('=');
    auto key = decode_component(raw.substr(0, eq));
    auto val = decode_component(eq == std::string_view::npos ? "" : raw.substr(eq + 1));
    if (!key || !val) continue;  // (parse_list_query refused such a query already)
    if (*key != name) {
      append(*key, *val);
    } else if (!replaced) {  // a repeated parameter: keep one
      append(name, value);
      replaced = true;
    }
  }
  if (!replaced) append(name, value);
  return out;
}

}  // namespace weft::serve
