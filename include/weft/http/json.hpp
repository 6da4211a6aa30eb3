// JSON bodies with nlohmann::json — the optional JSON component of the http library
// (CMake target weft::http_json; WEFT_WITH_JSON, on by default; Debian: nlohmann-json3-dev).
//
//   #include <weft/http/json.hpp>
//   app.post("/notes", [](weft::http::Request& req) {
//     nlohmann::json note = req.json();  // 415 / 400 as an HttpError when it is not JSON
//     return weft::http::Response::json({{"id", 1}, {"text", note.at("text")}}, 201);
//   });
//
// req.json(): the buffered body parsed (on a stream_body route the body is not buffered:
// parse what read_body() gives). Throws HttpError 415 when the Content-Type is not JSON
// (application/json or any type ending in "+json", parameters allowed) and 400 naming the
// byte where parsing failed when the body is not valid JSON. Parsing runs on the loop:
// bodies are bounded by ServerOptions::limits.max_body (or the route's max_body).
//
// Response::json(value, status = 200): serialized compactly as application/json; invalid
// UTF-8 inside strings is replaced with U+FFFD, so serializing never throws (no 500 from
// a stray byte in data).
#pragma once

#include <weft/http/http_error.hpp>
#include <weft/http/request.hpp>
#include <weft/http/response.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace weft::http {
namespace detail {

template <>
struct JsonOf<0> {
  using type = nlohmann::json;
};

// "application/json", "application/problem+json", "text/json; charset=utf-8" → true.
inline bool is_json_media_type(std::string_view content_type) noexcept {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  auto lower_ends_with = [&](std::string_view suffix) {
    if (type.size() < suffix.size()) return false;
    const std::string_view tail = type.substr(type.size() - suffix.size());
    for (std::size_t i = 0; i < suffix.size(); ++i) {
      const char c = tail[i] >= 'A' && tail[i] <= 'Z' ? static_cast<char>(tail[i] + 32) : tail[i];
      if (c != suffix[i]) return false;
    }
    return true;
  };
  return lower_ends_with("/json") || lower_ends_with("+json");
}

}  // namespace detail

template <int N>
typename detail::JsonOf<N>::type Request::json() const {
  if (!detail::is_json_media_type(header("Content-Type"))) {
    throw HttpError(415, "expected a JSON body (Content-Type: application/json)");
  }
  try {
    return nlohmann::json::parse(body());
  } catch (const nlohmann::json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 11: ...":
    // the client gets the part after the bracket.
    std::string_view why = e.what();
    if (const std::size_t close = why.find("] "); close != std::string_view::npos) {
      why.remove_prefix(close + 2);
    }
    throw HttpError(400, "invalid JSON at byte " + std::to_string(e.byte) + ": " +
                             (body().empty() ? std::string("empty body") : std::string(why)));
  }
}

template <int N>
Response Response::json(const typename detail::JsonOf<N>::type& value, int status) {
  return bytes(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
               "application/json", status);
}

}  // namespace weft::http
