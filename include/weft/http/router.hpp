// Router: method + path patterns to handlers.
//
// Patterns are literal segments, ":name" parameters (one segment each) and an optional
// trailing "*" that matches the rest of the path (including nothing). Routes are tried
// in the order they were added. A path that matches a route of another method gives
// 405 with an Allow header; no match at all gives 404. HEAD requests are served by GET
// routes (the server drops the body).
//
// Handlers come in two forms: synchronous (Request& → Response), run inline on the loop
// — the fast path for quick work — and coroutines (Request& → Task<Response>).
#pragma once

#include <weft/function.hpp>
#include <weft/http/http_error.hpp>
#include <weft/http/middleware.hpp>
#include <weft/http/request.hpp>
#include <weft/http/response.hpp>
#include <weft/task.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace weft::http {

using SyncHandler = Function<Response(Request&)>;
using AsyncHandler = Function<Task<Response>(Request&)>;

// Per-route choices.
struct RouteOptions {
  // The coroutine handler starts as soon as the head is in and reads the body as it
  // arrives (Request::read_body()) instead of after the whole body was buffered.
  bool stream_body = false;
  // The largest body this route accepts (413 past it); 0: the server's limits.max_body.
  std::uint64_t max_body = 0;
};

// A coroutine handler may add a quick path: it answers inline when it can (a cache hit)
// and returns nullopt when the coroutine must run.
using QuickHandler = Function<std::optional<Response>(Request&)>;

struct Handler {
  SyncHandler sync;
  AsyncHandler async;
  QuickHandler quick;  // only with async
  RouteOptions options;
  // "METHOD /pattern", set by the router; what the watchdog reports while it runs.
  std::string label;

  Handler() = default;
  template <class F>
    requires std::is_invocable_v<F&, Request&> Handler(
        F f) {  // NOLINT(google-explicit-constructor): lambdas convert implicitly
      if constexpr (std::is_same_v<std::invoke_result_t<F&, Request&>, Task<Response>>) {
        async = std::move(f);
      } else {
        sync = std::move(f);
      }
    }
  explicit operator bool() const noexcept { return sync || async; }
};

// Shapes every error response (see http_error.hpp); for a parser error the request holds
// what was parsed of it (possibly nothing: an empty method and path).
using ErrorHandler = Function<Response(const Request&, const HttpError&)>;

class Router {
 public:
  void add(std::string_view method, std::string_view pattern, Handler handler);

  struct Match {
    Handler* handler = nullptr;  // null: see allow
    // The route's own reference: a coroutine handler holds a copy while it runs, so a
    // handler (and its captures) outlives a server destroyed mid-request.
    const std::shared_ptr<Handler>* owner = nullptr;
    std::string allow;  // when the path matched other methods only: "GET, HEAD"
  };
  // Fills req's params on a match.
  Match match(Request& req);
  // Every method some route answers, as an Allow value ("GET, HEAD, POST, OPTIONS"):
  // what `OPTIONS *` is told (RFC 9110 §9.3.7).
  std::string methods() const;

 private:
  struct Segment {
    enum class Kind : unsigned char { literal, param, wildcard } kind;
    std::string text;  // literal text or parameter name
  };
  struct Route {
    std::string method;
    std::vector<Segment> segments;
    std::shared_ptr<Handler> handler;
  };
  static std::vector<Segment> compile(std::string_view pattern);
  static bool matches(const Route& route, std::string_view path, Request* req);

  std::vector<Route> routes_;
};

}  // namespace weft::http
