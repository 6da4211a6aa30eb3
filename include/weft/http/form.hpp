// Form: the fields of an application/x-www-form-urlencoded body, decoded.
//
//   app.post("/login", [](weft::http::Request& req) -> weft::Task<weft::http::Response> {
//     weft::http::Form form = co_await req.form();   // 415 unless urlencoded
//     co_return weft::http::Response::text("hello " + form.get("user").value_or("?"));
//   });
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::http {

class Form {
 public:
  Form() = default;
  // "a=1&b=x+y&a=%C3%A9": names and values percent-decoded, '+' as a space (a malformed
  // escape stays as sent); "a" and "a=" give "", empty pairs are skipped.
  static Form parse(std::string_view urlencoded);

  // The first value of `name`; nullopt when absent.
  std::optional<std::string> get(std::string_view name) const;
  // Every value of `name`, in the order sent.
  std::vector<std::string> get_all(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& fields() const noexcept {
    return fields_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace weft::http
