// HttpError: an error with an HTTP status, thrown from a handler or middleware to answer
// with that status (`throw HttpError(404, "no such note")`), and what Server::on_error is
// given for every error response the server makes: a thrown HttpError, 404/405 from the
// router, 500 for any other exception (its text stays in the log; the client gets the
// reason phrase), and the parser's and the timeouts' 400/408/413/414/417/431/501/505.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::http {

class HttpError : public std::runtime_error {
 public:
  // status: 400..599. message: what the client may read (what()).
  HttpError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }
  // Fields the error response carries whatever on_error made of it (e.g. Retry-After on a
  // 429, WWW-Authenticate on a 401): added after on_error, validated like
  // Response::header.
  HttpError& with_header(std::string_view name, std::string_view value) {
    headers_.emplace_back(std::string(name), std::string(value));
    return *this;
  }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept {
    return headers_;
  }

 private:
  int status_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace weft::http
