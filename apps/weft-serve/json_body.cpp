#include "json_body.hpp"

#include "uri.hpp"

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <charconv>
#include <unordered_set>

namespace weft::serve {
namespace {

constexpr std::size_t max_depth = 1024;  // simdjson's default

// "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..." →
// "invalid JSON at byte 9 (line 1, column 9): syntax error ...".
std::string describe_parse_error(std::string_view text, simdjson::error_code code) {
  try {
    nlohmann::json parsed = nlohmann::json::parse(text);
    (void)parsed;
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    auto colon = what.find(": ", what.find("parse error"));
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    auto at = what.find(" at line ");
    std::string place = at == std::string::npos || colon == std::string::npos
                            ? ""
                            : " (" + what.substr(at + 4, colon - at - 4) + ")";
    return "invalid JSON at byte " + std::to_string(e.byte) + place + ": " + reason;
  } catch (const std::exception& e) {
    return std::string("invalid JSON: ") + e.what();
  }
  return std::string("invalid JSON: ") + simdjson::error_message(code);
}

bool out_of_range(std::string_view number) {
  const char* first = number.data();
  const char* last = first + number.size();
  if (number.find_first_of(".eE") == std::string_view::npos) {
    std::int64_t i = 0;
    std::uint64_t u = 0;
    return std::from_chars(first, last, i).ec != std::errc() &&
           std::from_chars(first, last, u).ec != std::errc();
  }
  double d = 0;
  return std::from_chars(first, last, d).ec == std::errc::result_out_of_range;
}

// The limits simdjson enforces that nlohmann does not, located in an otherwise valid text:
// the first place nesting passes max_depth or a number is out of range, as a message;
// "" when there is neither.
std::string locate_limit(std::string_view text) {
  std::size_t depth = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    auto at = [i] { return " at byte " + std::to_string(i + 1); };
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) i += text[i] == '\\';
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return "invalid JSON: nesting deeper than 1024 levels" + at();
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t end = text.find_first_not_of("+-0123456789.eE", i);
      std::string_view number = text.substr(i, end == std::string_view::npos ? end : end - i);
      if (out_of_range(number)) {
        return "invalid JSON: number out of range" + at() +
               " (integers must fit in 64 bits, other numbers in a double)";
      }
      i += number.size() - 1;
    }
  }
  return "";
}

std::string describe_error(std::string_view text, simdjson::error_code code) {
  using E = simdjson::error_code;
  if (code == E::DEPTH_ERROR || code == E::NUMBER_ERROR || code == E::NUMBER_OUT_OF_RANGE) {
    if (std::string where = locate_limit(text); !where.empty()) return where;
  }
  return describe_parse_error(text, code);
}

simdjson::dom::parser& parser() {
  thread_local simdjson::dom::parser p;  // keeps its buffers between requests
  return p;
}

const std::string id_rule = "id must be an integer within ±(2^53 - 1) or a non-empty string";

std::optional<DocId> read_id(simdjson::dom::element id, std::string& error) {
  if (id.is_int64()) {
    std::int64_t n = id.get_int64().value_unsafe();
    if (n >= -max_integer_id && n <= max_integer_id) return DocId{std::to_string(n), n};
  }
  std::string_view s;
  if (!id.get_string().get(s) && !s.empty()) return DocId{std::string(s), key_number(s)};
  error = id.is_number() && (id.is_int64() || id.is_uint64())
              ? id_rule + " (2^53 - 1 = 9007199254740991, the integers JSON clients hold exactly)"
              : id_rule;
  return std::nullopt;
}

// Member names of one object appearing twice: a pairwise check for small objects, a set
// for large ones (quadratic work would let a body hold the loop).
std::optional<std::string_view> repeated_name(simdjson::dom::object object) {
  if (object.size() <= 16) {
    std::string_view names[16];
    std::size_t n = 0;
    for (auto field : object) {
      for (std::size_t i = 0; i < n; ++i) {
        if (names[i] == field.key) return field.key;
      }
      names[n++] = field.key;
    }
    return std::nullopt;
  }
  std::unordered_set<std::string_view> seen;
  for (auto field : object) {
    if (!seen.insert(field.key).second) return field.key;
  }
  return std::nullopt;
}

struct Findings {
  std::optional<std::string_view> duplicate;  // the first name repeated within one object
  bool nul = false;                           // a string or a name holds U+0000
};

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Walks `e` depth first, stopping at the first duplicate name (recursion depth is bounded
// by the parser's max_depth).
void inspect(simdjson::dom::element e, Findings& found) {
  simdjson::dom::object object;
  simdjson::dom::array array;
  std::string_view text;
  if (!e.get_object().get(object)) {
    if ((found.duplicate = repeated_name(object))) return;
    for (auto field : object) {
      found.nul = found.nul || has_nul(field.key);
      inspect(field.value, found);
      if (found.duplicate) return;
    }
  } else if (!e.get_array().get(array)) {
    for (auto item : array) {
      inspect(item, found);
      if (found.duplicate) return;
    }
  } else if (!e.get_string().get(text)) {
    found.nul = found.nul || has_nul(text);
  }
}

const char* type_name(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  switch (t) {
    case T::ARRAY:
      return "array";
    case T::STRING:
      return "string";
    case T::NULL_VALUE:
      return "null";
    case T::BOOL:
      return "boolean";
    default:
      return "number";
  }
}

}  // namespace

std::optional<std::int64_t> key_number(std::string_view key) {
  std::string_view digits = key.starts_with('-') ? key.substr(1) : key;
  if (digits.empty() || digits.size() > 16 || (digits[0] == '0' && key.size() > 1))
    return std::nullopt;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), n);
  if (ec != std::errc() || end != key.data() + key.size() || n < -max_integer_id ||
      n > max_integer_id) {
    return std::nullopt;
  }
  return n;
}

ObjectBody check_object(std::string_view text) {
  ObjectBody out;
  simdjson::dom::element doc;
  if (auto code = parser().parse(text.data(), text.size()).get(doc)) {
    out.error = describe_error(text, code);
    return out;
  }
  simdjson::dom::object object;
  if (doc.get_object().get(object)) {
    out.error = std::string("the body must be a JSON object, not ") + type_name(doc.type());
    return out;
  }
  Findings found;
  inspect(doc, found);
  if (found.duplicate) {
    out.error = "duplicate member name " + quote_name(*found.duplicate) +
                " in an object: each name may appear once (RFC 8259 §4, RFC 7493 §2.3)";
    return out;
  }
  out.has_nul = found.nul;
  simdjson::dom::element id;
  if (!object["id"].get(id)) {
    out.has_id = true;
    out.id = read_id(id, out.id_error);
  }
  return out;
}

}  // namespace weft::serve
