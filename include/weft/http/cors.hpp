// http::cors(CorsOptions): Cross-Origin Resource Sharing as a middleware layer.
//
//   app.use(weft::http::cors());                                  // any origin, no credentials
//   app.use("/api", weft::http::cors({.origins = {"https://app.example"}, .credentials = true}));
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by the
// layer itself with 204 — no OPTIONS route needed, and a path no route knows still gets
// its 404 for other methods. An allowed origin gets Access-Control-Allow-Methods, -Headers
// (the configured list, or the requested headers echoed when the list is empty) and
// -Max-Age; a refused one gets a 204 without them (the browser then blocks the request).
// Every other response to a request with an allowed Origin gets Access-Control-Allow-Origin
// ("*" when any origin is allowed without credentials, else the origin itself),
// -Allow-Credentials and -Expose-Headers as configured; `Vary: Origin` is added whenever
// the answer depends on the origin. Synchronous (before + after forms): no coroutine.
#pragma once

#include <weft/http/middleware.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace weft::http {

struct CorsOptions {
  // Origins allowed, compared exactly ("https://app.example:8443"); empty or {"*"}: any.
  std::vector<std::string> origins{};
  // Access-Control-Allow-Credentials: true (then "*" is never sent: the origin is echoed).
  bool credentials = false;
  std::vector<std::string> methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  // Request headers a preflight may announce; empty: whatever it asks for is allowed.
  std::vector<std::string> allowed_headers{};
  // Response headers scripts may read (Access-Control-Expose-Headers).
  std::vector<std::string> exposed_headers{};
  // How long a browser may cache a preflight's answer; zero: no Max-Age field.
  std::chrono::seconds max_age = std::chrono::seconds(600);
};

Middleware cors(CorsOptions options = {});

}  // namespace weft::http
