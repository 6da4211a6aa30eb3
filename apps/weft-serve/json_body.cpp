#include "json_body.hpp"

#include <nlohmann/json.hpp>
#include <simdjson.h>

namespace weft::serve {
namespace {

// "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..." →
// "invalid JSON at byte 9 (line 1, column 9): syntax error ...".
std::string describe_parse_error(std::string_view text) {
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
  return "invalid JSON";  // simdjson refused what nlohmann accepts (e.g. depth past 1,024)
}

simdjson::dom::parser& parser() {
  thread_local simdjson::dom::parser p;  // keeps its buffers between requests
  return p;
}

std::optional<DocId> read_id(simdjson::dom::element id) {
  if (id.is_int64()) {
    std::int64_t n = id.get_int64().value_unsafe();
    return DocId{std::to_string(n), n};
  }
  std::string_view s;
  if (!id.get_string().get(s) && !s.empty()) return DocId{std::string(s), std::nullopt};
  return std::nullopt;
}

const char* type_name(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  switch (t) {
    case T::ARRAY: return "array";
    case T::STRING: return "string";
    case T::NULL_VALUE: return "null";
    case T::BOOL: return "boolean";
    default: return "number";
  }
}

}  // namespace

ObjectBody check_object(std::string_view text) {
  ObjectBody out;
  simdjson::dom::element doc;
  if (parser().parse(text.data(), text.size()).get(doc)) {
    out.error = describe_parse_error(text);
    return out;
  }
  simdjson::dom::object object;
  if (doc.get_object().get(object)) {
    out.error = std::string("the body must be a JSON object, not ") + type_name(doc.type());
    return out;
  }
  simdjson::dom::element id;
  if (!object["id"].get(id)) {
    out.has_id = true;
    out.id = read_id(id);
  }
  return out;
}

}  // namespace weft::serve
