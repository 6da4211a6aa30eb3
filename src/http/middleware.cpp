// The middleware chain: sync forms inline, full forms as coroutines (middleware.hpp).
#include "http/middleware_run.hpp"

#include <algorithm>
#include <cstdio>

namespace weft::http {

bool MiddlewareStack::under(std::string_view path, std::string_view prefix) noexcept {
  while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.empty() || prefix == "/") return true;
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

bool MiddlewareStack::around_applies(std::string_view path) const noexcept {
  return std::any_of(layers.begin(), layers.end(),
                     [&](const Layer& l) { return l.mw.around && applies(l, path); });
}

std::uint64_t MiddlewareStack::layer_max_body(std::string_view path,
                                              std::uint64_t route_max) const noexcept {
  std::uint64_t limit = route_max;
  for (const Layer& l : layers) {
    if (!l.mw.max_body || !applies(l, path)) continue;
    limit = limit ? std::min(limit, l.mw.max_body) : l.mw.max_body;
  }
  return limit;
}

// Without on_error (or when it throws): the status with the message as text. A status
// outside 400..599 becomes a 500.
Response MiddlewareStack::shaped_error(const Request& req, const HttpError& error) {
  std::optional<Response> res;
  if (on_error) {
    try {
      res.emplace(on_error(req, error));
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "weft.http: on_error threw: %s\n", ex.what());
    } catch (...) {
      std::fprintf(stderr, "weft.http: on_error threw a non-standard exception\n");
    }
  }
  const bool valid = error.status() >= 400 && error.status() <= 599;
  if (!res) {
    std::string body(valid ? error.what() : reason_phrase(500));
    body += '\n';
    res.emplace(Response::text(std::move(body), valid ? error.status() : 500));
  }
  if (!valid) return std::move(*res);  // a 500: the thrower's fields are not for it
  for (const auto& [name, value] : error.headers()) {
    try {
      res->header(name, value);
    } catch (const std::invalid_argument& ex) {
      std::fprintf(stderr, "weft.http: HttpError field dropped: %s\n", ex.what());
    }
  }
  return std::move(*res);
}

// A thrown HttpError answers with its status; anything else is a 500 whose text goes to
// the log only (nothing internal goes to the client).
Response MiddlewareStack::error_response(const Request& req, std::exception_ptr e, bool& internal) {
  std::string message = "non-standard exception";
  try {
    std::rethrow_exception(e);
  } catch (const HttpError& error) {
    return shaped_error(req, error);
  } catch (const std::exception& ex) {
    message = ex.what();
  } catch (...) {
  }
  internal = true;
  std::fprintf(stderr, "weft.http: %.*s %.*s: handler threw: %s\n",
               static_cast<int>(req.method().size()), req.method().data(),
               static_cast<int>(req.path().size()), req.path().data(), message.c_str());
  return shaped_error(req, HttpError(500, std::string(reason_phrase(500))));
}

void MiddlewareStack::finish_error(const Request& req, Response& res) {
  auto guarded = [&](AfterMiddleware& m) {
    try {
      m(req, res);
    } catch (...) {
      bool internal = false;
      res = error_response(req, std::current_exception(), internal);
    }
  };
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (it->mw.after && applies(*it, req.path())) guarded(it->mw.after);
  }
  for (auto& m : outer_after) guarded(m);
}

namespace detail {

Response ChainRun::error(std::exception_ptr e) {
  bool internal = false;
  Response res = stack_.error_response(req_, std::move(e), internal);
  if (internal) ++internal_errors_;
  return res;
}

// Runs the layers from `from` that apply, down to the first that answers (a before-form)
// or continues as a coroutine (a full form); returns its index, or the layer count when
// the route must answer. After-forms run later, in ascend().
std::size_t ChainRun::descend(std::size_t from, std::optional<Response>& res, bool skip_before) {
  auto& layers = stack_.layers;
  for (std::size_t i = from; i < layers.size(); ++i) {
    Middleware& mw = layers[i].mw;
    if (!MiddlewareStack::applies(layers[i], req_.path())) continue;
    if (mw.around) return i;
    if (!mw.before || skip_before) continue;
    try {
      res = mw.before(req_);
    } catch (...) {
      res.emplace(error(std::current_exception()));
    }
    if (res) return i;
  }
  return layers.size();
}

// The after-forms of the layers in [from, to) that apply, innermost first.
void ChainRun::ascend(std::size_t from, std::size_t to, Response& res) {
  auto& layers = stack_.layers;
  for (std::size_t i = std::min(to, layers.size()); i-- > from;) {
    if (!layers[i].mw.after || !MiddlewareStack::applies(layers[i], req_.path())) continue;
    try {
      layers[i].mw.after(req_, res);
    } catch (...) {
      res = error(std::current_exception());
    }
  }
}

void ChainRun::finish_outer(Response& res) {
  for (auto& m : stack_.outer_after) {
    try {
      m(req_, res);
    } catch (...) {
      res = error(std::current_exception());
    }
  }
}

// The router's answer when no route matched: 404, or 405 with Allow; 204 to `OPTIONS *`.
Response ChainRun::no_route() {
  if (req_.target() == "*") {
    Response res(204);
    res.header("Allow", allow_);
    return res;
  }
  const int status = allow_.empty() ? 404 : 405;
  Response res = stack_.shaped_error(req_, HttpError(status, std::string(reason_phrase(status))));
  if (!allow_.empty()) res.header("Allow", allow_);
  return res;
}

// The route, inline: its sync handler, or its quick path (false when that declines).
bool ChainRun::end_sync(std::optional<Response>& into) {
  if (!handler_) {
    into.emplace(no_route());
    return true;
  }
  try {
    Loop::LabelScope label(loop_, handler_->label.c_str());
    if (handler_->sync) {
      into.emplace(handler_->sync(req_));
      return true;
    }
    into = handler_->quick(req_);
  } catch (...) {
    into.emplace(error(std::current_exception()));
  }
  return into.has_value();
}

Task<Response> ChainRun::end_async() {
  if (!handler_) co_return no_route();
  std::exception_ptr failed;
  try {
    if (handler_->sync || (handler_->quick && !quick_declined_)) {
      std::optional<Response> quick;
      if (end_sync(quick)) co_return std::move(*quick);
    }
    Response res = co_await handler_->async(req_);
    co_return res;
  } catch (...) {
    failed = std::current_exception();
  }
  co_return error(failed);
}

bool ChainRun::run_sync(std::optional<Response>& into) {
  const bool layered = !stack_.layers.empty();
  const std::size_t stop = layered ? descend(0, into, false) : 0;
  if (!into && !end_sync(into)) return false;
  if (layered) ascend(0, stop + 1, *into);
  if (!stack_.outer_after.empty()) finish_outer(*into);
  return true;
}

Task<Response> ChainRun::walk(std::size_t from, bool skip_before) {
  std::optional<Response> res;
  const std::size_t stop = descend(from, res, skip_before);
  if (!res && stop < stack_.layers.size()) {
    std::exception_ptr failed;
    try {
      Response r = co_await stack_.layers[stop].mw.around(req_, Next(this, stop + 1));
      res.emplace(std::move(r));
    } catch (...) {
      failed = std::current_exception();
    }
    if (failed) res.emplace(error(failed));
  } else if (!res) {
    Response r = co_await end_async();
    res.emplace(std::move(r));
  }
  ascend(from, stop + 1, *res);
  co_return std::move(*res);
}

Task<Response> ChainRun::run_async(bool before_done) {
  quick_declined_ = before_done;
  Response res = co_await walk(0, before_done);
  finish_outer(res);
  co_return res;
}

}  // namespace detail

Task<Response> Next::operator()() const { return run_->walk(index_, false); }

}  // namespace weft::http
