// The middleware stack (Server::use, before, after, on_error) and one request's walk
// through it (see include/weft/http/middleware.hpp for the contract).
#pragma once

#include <weft/http/router.hpp>
#include <weft/loop.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::http {

// Written before listen(), read-only after. Held by shared_ptr: a coroutine walking it
// keeps it alive if the server is destroyed mid-request (as it keeps its route's handler).
struct MiddlewareStack {
  struct Layer {
    std::string prefix;  // empty: every path
    Middleware mw;
  };
  std::vector<Layer> layers;                 // Server::use and Server::before, in order
  std::vector<AfterMiddleware> outer_after;  // Server::after: outside every layer
  ErrorHandler on_error;                     // empty: plain text errors
  bool any_around = false;
  bool any_max_body = false;

  // `path` is `prefix` or below it, on a segment boundary.
  static bool under(std::string_view path, std::string_view prefix) noexcept;
  static bool applies(const Layer& l, std::string_view path) noexcept {
    return l.prefix.empty() || under(path, l.prefix);
  }
  // A full-form layer applies: the request must run as a coroutine.
  bool needs_coroutine(std::string_view path) const noexcept {
    return any_around && around_applies(path);  // inline: no layers costs one test
  }
  // The smallest body limit of the layers for `path` and the route's own (0: none).
  std::uint64_t max_body_for(std::string_view path, std::uint64_t route_max) const noexcept {
    return any_max_body ? layer_max_body(path, route_max) : route_max;
  }
  bool around_applies(std::string_view path) const noexcept;
  std::uint64_t layer_max_body(std::string_view path, std::uint64_t route_max) const noexcept;
  // on_error's response (or the plain one when there is none or it throws).
  Response shaped_error(const Request& req, const HttpError& error);
  // An exception as a response: an HttpError its status; anything else a 500 and a log
  // line (then `internal` is set, for the server's handler_errors).
  Response error_response(const Request& req, std::exception_ptr e, bool& internal);
  // A parser or timeout error response: the after-form layers that apply, then
  // outer_after (no chain runs: the request is not complete).
  void finish_error(const Request& req, Response& res);
};

namespace detail {

// One request's walk to its route (or the router's 404/405) and back. Lives as long as
// the walk: on the inline caller's stack, or in the coroutine frame that runs it.
class ChainRun {
 public:
  // handler: the route (null: none matched; `allow` then holds the methods for a 405,
  // or for `OPTIONS *` every method the router knows). `allow` must outlive the walk (the
  // connection's, or the coroutine frame's copy).
  ChainRun(MiddlewareStack& stack, Loop& loop, Request& req, Handler* handler,
           std::string_view allow) noexcept
      : stack_(stack), loop_(loop), req_(req), handler_(handler), allow_(allow) {}

  // The whole chain inline, its response emplaced in `into` (constructed once: this is
  // the plaintext hot path). Precondition: !stack.needs_coroutine(req.path()) and the
  // route is synchronous or has a quick path. false: the quick path declined after the
  // before-forms ran (`into` empty); finish with run_async(true).
  bool run_sync(std::optional<Response>& into);
  // The whole chain as a coroutine; before_done: run_sync's before-forms ran already.
  Task<Response> run_async(bool before_done);
  // 500s made on the way (for ServerStats::handler_errors).
  unsigned internal_errors() const noexcept { return internal_errors_; }

 private:
  friend class http::Next;
  Task<Response> walk(std::size_t from, bool skip_before);
  std::size_t descend(std::size_t from, std::optional<Response>& res, bool skip_before);
  void ascend(std::size_t from, std::size_t to, Response& res);
  void finish_outer(Response& res);
  bool end_sync(std::optional<Response>& into);
  Task<Response> end_async();
  Response no_route();
  Response error(std::exception_ptr e);

  MiddlewareStack& stack_;
  Loop& loop_;
  Request& req_;
  Handler* handler_;
  std::string_view allow_;
  unsigned internal_errors_ = 0;
  bool quick_declined_ = false;  // run_async(true): the quick path ran inline already
};

}  // namespace detail
}  // namespace weft::http
