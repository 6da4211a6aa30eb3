#include <weft/http/request.hpp>

#include "http/parse_chars.hpp"

#include <weft/error.hpp>
#include <weft/http/http_error.hpp>
#include <weft/http/uri.hpp>
#include <weft/loop.hpp>

#include <cstdio>
#include <random>
#include <stdexcept>
#include <system_error>

namespace weft::http {

void body_stream_drained(Connection& c);  // connection.cpp

// The server assigns every request inside its loop's run(): that loop is the request's.
void Request::assign(const RequestHead& head) {
  if (!loop_) loop_ = Loop::current();
  method_ = head.method;
  set_target(head.target);
  version_minor_ = head.version_minor;
  fields_ = head.fields;
  keep_alive_ = head.keep_alive;
  params_.clear();
  body_.clear();
}

namespace {

// The authority of an absolute-form target ("http://a:1/p" → "a:1"); empty otherwise.
std::string_view authority_of(std::string_view target) noexcept {
  if (target.empty() || target.front() == '/') return {};
  const std::size_t start = target.find("://");
  if (start == std::string_view::npos) return {};
  target.remove_prefix(start + 3);
  return target.substr(0, target.find_first_of("/?"));
}

}  // namespace

void Request::set_target(std::string_view target) {
  target_ = target;
  auto q = target.find('?');
  path_ = target.substr(0, q);
  query_ = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (const std::string_view authority = authority_of(path_); !authority.empty()) {
    path_.remove_prefix(static_cast<std::size_t>(authority.end() - path_.begin()));
    if (path_.empty()) path_ = "/";  // "http://a?x" asks for "/"
  }
}

std::string_view Request::host() const noexcept {
  const std::string_view authority = authority_of(target_.substr(0, target_.find('?')));
  return authority.empty() ? header("Host") : authority;
}

void Request::reset() {
  method_ = target_ = path_ = query_ = {};
  fields_ = {};
  owned_fields_.clear();
  params_.clear();
  storage_.clear();
  body_.clear();
  if (!locals_.empty()) locals_.clear();
  if (!id_.empty()) id_.clear();
  if (cancelled_.use_count() == 1) {
    *cancelled_ = false;
  } else {
    cancelled_ = std::make_shared<RequestCancel>();
  }
}

void Request::release_storage() {
  reset();
  if (owned_fields_.capacity()) std::vector<HeaderField>().swap(owned_fields_);
  if (params_.capacity()) decltype(params_)().swap(params_);
  if (storage_.capacity() > 15) std::string().swap(storage_);
  if (body_.capacity() > 15) std::string().swap(body_);
  if (locals_.capacity()) std::vector<Local>().swap(locals_);
  if (id_.capacity() > 15) std::string().swap(id_);
}

// Copies all views into one new string, then re-points them. Views are rebuilt from
// offsets, since appending may move the storage; the old storage (which the views may
// point into, if the request was detached before) lives until the end.
void Request::detach() {
  struct Span {
    std::size_t at, len;
  };
  std::string storage;
  auto save = [&](std::string_view v) {
    Span s{storage.size(), v.size()};
    storage.append(v);
    return s;
  };
  Span method = save(method_), target = save(target_);
  std::vector<std::pair<Span, Span>> fields;
  fields.reserve(fields_.size());
  for (const HeaderField& f : fields_) fields.emplace_back(save(f.name), save(f.value));
  std::vector<std::pair<Span, Span>> params;
  params.reserve(params_.size());
  for (const auto& [n, v] : params_) params.emplace_back(save(n), save(v));

  storage_.swap(storage);
  auto view = [&](Span s) { return std::string_view(storage_).substr(s.at, s.len); };
  method_ = view(method);
  set_target(view(target));
  owned_fields_.clear();
  for (const auto& [n, v] : fields) owned_fields_.push_back({view(n), view(v)});
  fields_ = owned_fields_;
  params_.clear();
  for (const auto& [n, v] : params) params_.emplace_back(view(n), view(v));
}

// ---- streamed bodies ---------------------------------------------------------------------

BodyStream& Request::enable_body_stream() {
  if (!stream_) stream_ = std::make_unique<BodyStream>();
  return *stream_;
}

BodyStream::ReadAwaiter Request::read_body() {
  if (!stream_) throw std::logic_error("weft::http: read_body() on a route without stream_body");
  return stream_->read();
}

void BodyStream::push(std::string_view piece) {
  pieces_.emplace_back(piece);
  buffered_ += piece.size();
  wake();
}

void BodyStream::end() noexcept {
  ended_ = true;
  wake();
}

void BodyStream::fail() noexcept {
  failed_ = true;
  conn_ = nullptr;
  wake();
}

void BodyStream::discard() noexcept {
  pieces_.clear();
  buffered_ = 0;
}

// The reader resumes as a microtask: after the connection's current callback, never
// inside the parsing that delivered the piece.
void BodyStream::wake() noexcept {
  auto h = std::exchange(waiting_, {});
  if (!h) return;
  if (Loop* loop = Loop::current()) {
    loop->queue_microtask([h] { h.resume(); });
  } else {
    h.resume();
  }
}

std::optional<std::string> BodyStream::take() {
  if (!pieces_.empty()) {
    std::string piece = std::move(pieces_.front());
    pieces_.pop_front();
    buffered_ -= piece.size();
    if (pieces_.empty() && conn_) body_stream_drained(*conn_);
    return piece;
  }
  if (failed_) throw std::system_error(canceled_error());
  return std::nullopt;
}

void Request::copy_from(const Request& other) {
  loop_ = other.loop_;
  method_ = other.method_;
  set_target(other.target_);
  version_minor_ = other.version_minor_;
  fields_ = other.fields_;
  params_ = other.params_;
  body_ = other.body_;
  keep_alive_ = other.keep_alive_;
  peer_ = other.peer_;
  start_time_ = other.start_time_;
  id_ = other.id_;
  detach();  // the views above still point into `other`
}

std::string_view Request::header(std::string_view name) const noexcept {
  for (const HeaderField& f : fields_) {
    if (chars::iequals(f.name, name)) return f.value;
  }
  return {};
}

std::string_view Request::raw_param(std::string_view name) const noexcept {
  for (const auto& [n, v] : params_) {
    if (n == name) return v;
  }
  return {};
}

bool Request::has_param(std::string_view name) const noexcept {
  for (const auto& p : params_) {
    if (p.first == name) return true;
  }
  return false;
}

namespace {

bool valid_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("-._~:+/=").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// 64 random bits per call: splitmix64 over a per-thread counter seeded from the OS.
std::uint64_t next_request_id() {
  thread_local std::uint64_t state =
      (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::string_view Request::id() const {
  if (!id_.empty()) return id_;
  const std::string_view sent = header("X-Request-Id");
  if (valid_request_id(sent)) {
    id_.assign(sent);
  } else {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(next_request_id()));
    id_.assign(hex, 16);
  }
  return id_;
}

std::string Request::param(std::string_view name) const {
  return decode_component_lenient(raw_param(name), Plus::literal);
}

namespace {

// Calls fn(decoded name, raw value) for each name=value pair of a query, in order; stops
// when fn returns false.
template <class Fn>
void each_query_pair(std::string_view query, Fn fn) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (!fn(decode_component_lenient(pair.substr(0, eq)), value)) return;
  }
}

}  // namespace

std::optional<std::string> Request::query(std::string_view name) const {
  std::optional<std::string> found;
  each_query_pair(query_, [&](const std::string& n, std::string_view value) {
    if (n == name) found = decode_component_lenient(value);
    return !found;
  });
  return found;
}

std::vector<std::string> Request::query_all(std::string_view name) const {
  std::vector<std::string> all;
  each_query_pair(query_, [&](const std::string& n, std::string_view value) {
    if (n == name) all.push_back(decode_component_lenient(value));
    return true;
  });
  return all;
}

std::string_view Request::raw_query(std::string_view name) const noexcept {
  std::string_view rest = query_;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : pair.substr(eq + 1);
  }
  return {};
}

}  // namespace weft::http

namespace weft::http {

Form Form::parse(std::string_view urlencoded) {
  Form form;
  while (!urlencoded.empty()) {
    const std::size_t amp = urlencoded.find('&');
    const std::string_view pair = urlencoded.substr(0, amp);
    urlencoded = amp == std::string_view::npos ? std::string_view() : urlencoded.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    form.fields_.emplace_back(decode_component_lenient(pair.substr(0, eq)),
                              decode_component_lenient(value));
  }
  return form;
}

std::optional<std::string> Form::get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::vector<std::string> Form::get_all(std::string_view name) const {
  std::vector<std::string> all;
  for (const auto& [n, v] : fields_) {
    if (n == name) all.push_back(v);
  }
  return all;
}

namespace {

bool is_urlencoded(std::string_view content_type) noexcept {
  const std::string_view type = chars::trim_ows(content_type.substr(0, content_type.find(';')));
  return chars::iequals(type, "application/x-www-form-urlencoded");
}

}  // namespace

Task<Form> Request::form() {
  if (!is_urlencoded(header("Content-Type"))) {
    throw HttpError(415, "expected a form body (Content-Type: application/x-www-form-urlencoded)");
  }
  if (!stream_) co_return Form::parse(body_);
  std::string all;
  for (;;) {
    std::optional<std::string> piece = co_await read_body();
    if (!piece) break;
    all += *piece;
  }
  co_return Form::parse(all);
}

// "a=1; b=2" (RFC 6265 §4.2.1); several Cookie fields are read in order.
std::optional<std::string> Request::cookie(std::string_view name) const {
  for (const HeaderField& f : fields_) {
    if (!chars::iequals(f.name, "Cookie")) continue;
    std::string_view rest = f.value;
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      const std::string_view pair = chars::trim_ows(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos || chars::trim_ows(pair.substr(0, eq)) != name) continue;
      std::string_view value = chars::trim_ows(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
  }
  return std::nullopt;
}

}  // namespace weft::http
