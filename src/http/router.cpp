#include <weft/http/router.hpp>

#include <algorithm>

namespace weft::http {

using detail::RequestAccess;
namespace {

// Splits "/a/b/c" into segments; an empty path or "/" has none.
template <class F>
void for_each_segment(std::string_view path, F f) {
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    if (!f(path.substr(i, end - i), i)) return;
    i = end;
  }
}

}  // namespace

void Router::add(std::string_view method, std::string_view pattern, Handler handler) {
  routes_.push_back(
      {std::string(method), compile(pattern), std::make_shared<Handler>(std::move(handler))});
  routes_.back().handler->label = std::string(method) + " " + std::string(pattern);
}

std::vector<Router::Segment> Router::compile(std::string_view pattern) {
  std::vector<Segment> out;
  for_each_segment(pattern, [&](std::string_view seg, std::size_t) {
    if (seg == "*") {
      out.push_back({Segment::Kind::wildcard, "*"});
    } else if (seg.front() == ':') {
      out.push_back({Segment::Kind::param, std::string(seg.substr(1))});
    } else {
      out.push_back({Segment::Kind::literal, std::string(seg)});
    }
    return true;
  });
  return out;
}

bool Router::matches(const Route& route, std::string_view path, Request* req) {
  std::size_t n = 0;
  bool ok = true;
  bool rest_taken = false;
  for_each_segment(path, [&](std::string_view seg, std::size_t at) {
    if (n >= route.segments.size()) return ok = false;
    const Segment& s = route.segments[n++];
    if (s.kind == Segment::Kind::wildcard) {
      if (req) RequestAccess::add_param(*req, "*", path.substr(at));
      rest_taken = true;
      return false;
    }
    if (s.kind == Segment::Kind::literal && s.text != seg) return ok = false;
    if (s.kind == Segment::Kind::param && req) RequestAccess::add_param(*req, s.text, seg);
    return true;
  });
  if (!ok) return false;
  if (rest_taken) return true;
  if (n == route.segments.size()) return true;
  // A trailing wildcard also matches nothing.
  if (n + 1 == route.segments.size() && route.segments[n].kind == Segment::Kind::wildcard) {
    if (req) RequestAccess::add_param(*req, "*", "");
    return true;
  }
  return false;
}

std::string Router::methods() const {
  std::vector<std::string_view> seen;
  std::string allow;
  auto add = [&](std::string_view method) {
    if (std::find(seen.begin(), seen.end(), method) != seen.end()) return;
    seen.push_back(method);
    allow.append(allow.empty() ? "" : ", ").append(method);
  };
  for (const Route& route : routes_) {
    add(route.method);
    if (route.method == "GET") add("HEAD");
  }
  add("OPTIONS");
  return allow;
}

Router::Match Router::match(Request& req) {
  const std::string_view method = req.is_head() ? std::string_view("GET") : req.method();
  Match m;
  for (Route& route : routes_) {
    if (route.method != method) continue;
    RequestAccess::clear_params(req);
    if (matches(route, req.path(), &req)) {
      m.handler = route.handler.get();
      m.owner = &route.handler;
      return m;
    }
  }
  RequestAccess::clear_params(req);
  for (const Route& route : routes_) {
    if (!matches(route, req.path(), nullptr)) continue;
    if (m.allow.find(route.method) != std::string::npos) continue;
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += route.method;
    if (route.method == "GET") m.allow += ", HEAD";
  }
  return m;
}

}  // namespace weft::http
