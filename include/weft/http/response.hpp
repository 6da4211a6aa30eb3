// Response: what a handler returns. Text, JSON text, bytes, a bare status, extra headers,
// or a streamed body written piece by piece with backpressure (see body_writer.hpp).
//
// The server adds Date, Content-Length (Transfer-Encoding: chunked for a streamed body)
// and Connection; a handler must not set those itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/function.hpp>
#include <weft/http/body_writer.hpp>
#include <weft/http/upgrade.hpp>
#include <weft/task.hpp>

namespace weft::http {

namespace detail {
template <int N>
struct JsonOf;  // nlohmann::json, defined by <weft/http/json.hpp>
}  // namespace detail

// Produces a streamed body; runs on the loop once the response's turn has come.
using BodyProducer = Function<Task<void>(BodyWriter&)>;

// A body sent straight from an open file with sendfile (zero-copy). keep_alive holds
// whatever owns the descriptor until the bytes are out.
struct FileBody {
  int fd = -1;
  std::uint64_t offset = 0;
  std::size_t length = 0;
  std::shared_ptr<const void> keep_alive;
};

enum class SameSite { unset, lax, strict, none };

// Set-Cookie attributes (RFC 6265 §4.1). The defaults suit a session cookie: HttpOnly,
// SameSite=Lax, Path=/, no Max-Age (gone when the browser closes).
struct CookieOptions {
  std::optional<std::chrono::seconds> max_age{};  // 0 or negative: delete the cookie now
  std::string path = "/";                         // empty: no Path attribute
  std::string domain{};                           // empty: no Domain (this host only)
  bool secure = false;
  bool http_only = true;
  SameSite same_site = SameSite::lax;  // none requires secure (else invalid_argument)
};

class Response {
 public:
  explicit Response(int status = 200) : status_(status) {}

  static Response text(std::string body, int status = 200);
  // Pre-serialized JSON text.
  static Response json(std::string body, int status = 200);
  // A JSON value, serialized (needs <weft/http/json.hpp>; see there).
  template <int N = 0>
  static Response json(const typename detail::JsonOf<N>::type& value, int status = 200);
  static Response bytes(std::string body, std::string_view content_type, int status = 200);
  // A status with its reason phrase as a short text body ("Not Found").
  static Response status(int status);
  // A redirect: `location` in the Location field (validated like header()), a short text
  // body. status: 301, 302, 303, 307 or 308 (std::invalid_argument otherwise).
  static Response redirect(std::string_view location, int status = 302);
  // A range of a file, sent with sendfile.
  static Response file(FileBody body, std::string_view content_type, int status = 200);
  // A body of unknown length: chunked on HTTP/1.1, delimited by close on HTTP/1.0.
  static Response stream(std::string_view content_type, BodyProducer producer, int status = 200);

  // Adds a field. Throws std::invalid_argument when the name is not a token or the value
  // holds a control byte other than HTAB (CR, LF, NUL...: RFC 9110 §5.5), so no value can
  // add fields or responses of its own; from a handler that becomes a 500 and a log line.
  // The && form keeps chains on a temporary movable: `return Response(204).header(a, b);`
  Response& header(std::string_view name, std::string_view value) &;
  Response&& header(std::string_view name, std::string_view value) && {
    return std::move(header(name, value));
  }
  // Adds a Set-Cookie field. Throws std::invalid_argument when the name is not a token,
  // the value has a byte outside RFC 6265's cookie-octets (no space, '"', ',', ';', '\\'
  // or control bytes: encode such values first, e.g. with encode_query_component), or
  // Path/Domain hold ';' or control bytes.
  Response& set_cookie(std::string_view name, std::string_view value,
                       const CookieOptions& options = {}) &;
  Response&& set_cookie(std::string_view name, std::string_view value,
                        const CookieOptions& options = {}) && {
    return std::move(set_cookie(name, value, options));
  }
  // Removes every field named `name` (case-insensitive); none: nothing happens.
  Response& remove_header(std::string_view name) &;
  Response&& remove_header(std::string_view name) && { return std::move(remove_header(name)); }
  Response& set_status(int status) noexcept {
    status_ = status;
    return *this;
  }
  Response& set_file(FileBody file) {
    file_ = std::move(file);
    return *this;
  }
  Response& set_body(std::string body) {
    body_ = std::move(body);
    return *this;
  }

  int status_code() const noexcept { return status_; }
  const std::string& body() const noexcept { return body_; }
  std::string& body() noexcept { return body_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept {
    return headers_;
  }
  // The value of the first header named `name` (case-insensitive), or empty.
  std::string_view header_value(std::string_view name) const noexcept;
  bool is_streamed() const noexcept { return static_cast<bool>(producer_); }
  bool has_file() const noexcept { return file_.fd >= 0; }
  const FileBody& file_body() const noexcept { return file_; }
  // Bytes of the body as sent: the file range or the in-memory body.
  std::size_t body_length() const noexcept { return has_file() ? file_.length : body_.size(); }
  BodyProducer take_producer() noexcept { return std::move(producer_); }
  // Switches the connection to another protocol after this response (status 101; see
  // http/upgrade.hpp). The handler must set the Upgrade and Connection fields itself.
  Response& upgrade(std::shared_ptr<Upgraded> protocol) {
    upgrade_ = std::move(protocol);
    return *this;
  }
  const std::shared_ptr<Upgraded>& upgraded() const noexcept { return upgrade_; }

 private:
  int status_;
  std::string body_;
  std::vector<std::pair<std::string, std::string>> headers_;
  BodyProducer producer_;
  FileBody file_;
  std::shared_ptr<Upgraded> upgrade_;
};

// The reason phrase of a status code ("OK", "Not Found"), or "Unknown".
std::string_view reason_phrase(int status) noexcept;

}  // namespace weft::http
