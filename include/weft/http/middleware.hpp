// Middleware: layers every request passes through on its way to a route and back.
//
//   app.use([](Request& req, Next next) -> Task<Response> {   // the full (Koa) form
//     if (req.header("Authorization").empty()) co_return Response::status(401);
//     Response res = co_await next();                          // the rest of the chain
//     res.header("X-Id", req.id());
//     co_return res;
//   });
//   app.use("/api", [](Request& req) -> std::optional<Response> { ... });  // sync: answer or pass
//   app.use([](const Request& req, Response& res) { ... });                 // sync: change on the
//   way out
//
// Order: layers run in the order they were added, each around everything added after it
// (and the route). A layer added with a prefix runs only for paths equal to it or below
// it ("/api" matches "/api" and "/api/x", not "/apix"); the path is not rewritten.
// Every request passes the layers, also one no route matches: the router's 404 and 405
// (and the 204 of `OPTIONS *`) are what the end of the chain answers, so a layer can
// answer a CORS preflight or log a 404.
//
// Errors: what a layer or the route throws becomes its error response right there (a
// thrown HttpError its status, anything else a 500 and a log line, both shaped by
// Server::on_error), so `co_await next()` always gives a Response and every layer above
// sees the error response (it can log it or add headers to it).
//
// Sync forms: a layer that only answers early ((Request&) -> std::optional<Response>) or
// only changes the response ((const Request&, Response&) -> void) runs inline, without a
// coroutine: a request whose layers and route are all synchronous is answered in the read
// that completed it, as without middleware. A full-form layer makes each request under its
// prefix run as a coroutine (one frame per layer).
//
// The parser's and the timeouts' errors (400, 408, 413, 414, 431, ...) have no complete
// request to run a chain for: they go through the after-form layers (matched against
// whatever path was parsed, possibly none) and Server::after, not through the others.
#pragma once

#include <weft/function.hpp>
#include <weft/http/request.hpp>
#include <weft/http/response.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

namespace weft::http {

namespace detail {
class ChainRun;
}

// The rest of the chain, given to a full-form layer. `co_await next()` runs it and gives
// its response (never throws for an error below: see "Errors"). Valid while the layer
// runs; calling it again runs the rest again.
class Next {
 public:
  Task<Response> operator()() const;

 private:
  friend class detail::ChainRun;
  Next(detail::ChainRun* run, std::size_t index) noexcept : run_(run), index_(index) {}
  detail::ChainRun* run_;
  std::size_t index_;
};

// Answers early (a Response) or lets the request through (nullopt).
using BeforeMiddleware = Function<std::optional<Response>(Request&)>;
// Changes a response on its way out.
using AfterMiddleware = Function<void(const Request&, Response&)>;
using AroundMiddleware = Function<Task<Response>(Request&, Next)>;

// One layer: any of the three forms (a ready middleware may set before and after both:
// its after then also sees what its own before answered).
struct Middleware {
  BeforeMiddleware before;
  AfterMiddleware after;
  AroundMiddleware around;
  // Nonzero: the largest request body for paths under the layer (413 from the parser,
  // before any handler runs, as soon as a declared length or the bytes pass it). Where
  // several layers or a route's RouteOptions::max_body apply, the smallest wins; without
  // any, ServerOptions::limits.max_body. See body_limit().
  std::uint64_t max_body = 0;

  Middleware() = default;
  template <class F>
    requires(std::is_invocable_r_v<Task<Response>, F&, Request&, Next> ||
             std::is_invocable_r_v<std::optional<Response>, F&, Request&> ||
             std::is_invocable_r_v<void, F&, const Request&, Response&>)
  Middleware(F f) {  // NOLINT(google-explicit-constructor): lambdas convert implicitly
    if constexpr (std::is_invocable_r_v<Task<Response>, F&, Request&, Next>) {
      around = std::move(f);
    } else if constexpr (std::is_invocable_r_v<std::optional<Response>, F&, Request&>) {
      before = std::move(f);
    } else {
      after = std::move(f);
    }
  }
};

// A layer that only limits request bodies, per prefix:
//   app.use("/upload", body_limit(50 * 1024 * 1024));   // above the server's default
//   app.use("/api", body_limit(64 * 1024));
inline Middleware body_limit(std::uint64_t max_bytes) {
  Middleware m;
  m.max_body = max_bytes;
  return m;
}

}  // namespace weft::http
