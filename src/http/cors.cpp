// http::cors: preflights answered by the layer, headers added on the way out (cors.hpp).
#include <weft/http/cors.hpp>

#include "http/parse_chars.hpp"

#include <algorithm>
#include <memory>
#include <string>

namespace weft::http {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out.append(out.empty() ? "" : ", ").append(item);
  return out;
}

struct CorsPolicy {
  explicit CorsPolicy(CorsOptions o)
      : any_origin(o.origins.empty() ||
                   std::find(o.origins.begin(), o.origins.end(), "*") != o.origins.end()),
        options(std::move(o)),
        methods(join(options.methods)),
        allowed_headers(join(options.allowed_headers)),
        exposed_headers(join(options.exposed_headers)),
        max_age(options.max_age.count() > 0 ? std::to_string(options.max_age.count()) : "") {}

  bool allows(std::string_view origin) const {
    if (origin.empty()) return false;
    return any_origin || std::find(options.origins.begin(), options.origins.end(), origin) !=
                             options.origins.end();
  }
  // The answer depends on the Origin (so caches must key on it).
  bool varies() const noexcept { return !any_origin || options.credentials; }

  void add_vary(Response& res, std::string_view field) const {
    std::string vary(res.header_value("Vary"));
    if (vary == "*") return;
    if (!vary.empty()) {
      // Already listed? (a second layer, or the handler)
      std::string_view rest = vary;
      while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        if (chars::iequals(chars::trim_ows(rest.substr(0, comma)), field)) return;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      vary += ", ";
    }
    vary.append(field);
    res.remove_header("Vary");
    res.header("Vary", vary);
  }

  void add_origin(Response& res, std::string_view origin) const {
    res.remove_header("Access-Control-Allow-Origin");
    res.header("Access-Control-Allow-Origin",
               any_origin && !options.credentials ? std::string_view("*") : origin);
    if (options.credentials) res.header("Access-Control-Allow-Credentials", "true");
  }

  Response preflight(const Request& req) const {
    Response res(204);
    const std::string_view origin = req.header("Origin");
    if (varies()) add_vary(res, "Origin");
    if (!allows(origin)) return res;
    add_origin(res, origin);
    res.header("Access-Control-Allow-Methods", methods);
    const std::string_view asked = req.header("Access-Control-Request-Headers");
    if (!allowed_headers.empty()) {
      res.header("Access-Control-Allow-Headers", allowed_headers);
    } else if (!asked.empty()) {
      res.header("Access-Control-Allow-Headers", asked);
      add_vary(res, "Access-Control-Request-Headers");
    }
    if (!max_age.empty()) res.header("Access-Control-Max-Age", max_age);
    return res;
  }

  void decorate(const Request& req, Response& res) const {
    if (varies()) add_vary(res, "Origin");
    const std::string_view origin = req.header("Origin");
    if (!allows(origin)) return;
    add_origin(res, origin);
    if (!exposed_headers.empty()) res.header("Access-Control-Expose-Headers", exposed_headers);
  }

  bool any_origin;
  CorsOptions options;
  std::string methods, allowed_headers, exposed_headers, max_age;
};

bool is_preflight(const Request& req) {
  return req.method() == "OPTIONS" && !req.header("Origin").empty() &&
         !req.header("Access-Control-Request-Method").empty();
}

}  // namespace

Middleware cors(CorsOptions options) {
  auto policy = std::make_shared<const CorsPolicy>(std::move(options));
  Middleware m;
  m.before = [policy](Request& req) -> std::optional<Response> {
    if (!is_preflight(req)) return std::nullopt;
    return policy->preflight(req);
  };
  m.after = [policy](const Request& req, Response& res) {
    if (!is_preflight(req)) policy->decorate(req, res);  // a preflight is answered above
  };
  return m;
}

}  // namespace weft::http
