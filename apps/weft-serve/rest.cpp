#include "rest.hpp"

#include "uri.hpp"

#include <weft/db/error.hpp>
#include <weft/observe/mount.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <system_error>

namespace weft::serve {
namespace {

using json = nlohmann::ordered_json;
using http::Request;
using http::Response;

struct Api {
  Store& store;
  const ServeOptions& options;
};

struct BadRequest : std::runtime_error {
  int status;
  BadRequest(int s, const std::string& m) : std::runtime_error(m), status(s) {}
};

// A path parameter, percent-decoded as a path segment ('+' stays a '+').
std::string param(const Request& req, std::string_view name) {
  auto raw = req.raw_param(name);
  auto decoded = decode_segment(raw);
  if (!decoded) throw BadRequest(400, "bad percent-encoding in " + quote_name(raw));
  return std::move(*decoded);
}

// application/json or any +json type; media types are case-insensitive (RFC 9110 §8.3.1)
// and parameters (charset) are ignored.
bool is_json_type(std::string_view type) {
  type = type.substr(0, type.find(';'));
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!type.empty() && blank(type.front())) type.remove_prefix(1);
  while (!type.empty() && blank(type.back())) type.remove_suffix(1);
  std::string lower(type);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "application/json" ||
         (lower.ends_with("+json") && lower.find('/') != std::string::npos);
}

// The request body, checked to be one JSON object; a BadRequest with the status and
// reason otherwise. `id` gets its "id" member (nullopt: none).
std::string object_body(const Api& api, Request& req, std::optional<DocId>* id = nullptr) {
  if (auto type = req.header("Content-Type"); !type.empty() && !is_json_type(type)) {
    throw BadRequest(
        415,
        "the body must be JSON, sent with Content-Type: application/json (curl: --json), not " +
            quote_name(type));
  }
  ObjectBody checked = check_object(req.body());
  if (!checked.error.empty()) throw BadRequest(400, checked.error);
  if (checked.has_nul && api.store.backend() == Backend::postgres) {
    throw BadRequest(
        400,
        "this server's database (PostgreSQL) cannot store U+0000 (\\u0000) in a string or name");
  }
  if (checked.has_id && !checked.id && id) throw BadRequest(400, checked.id_error);
  if (id) *id = std::move(checked.id);
  return req.body();
}

Response json_response(std::string body, int status = 200) {
  return Response::json(std::move(body), status);
}

Response not_found(const std::string& collection, const std::string* id) {
  return error_response(404,
                        id ? "no item with id " + quote_name(*id) + " in " + quote_name(collection)
                           : "no collection " + quote_name(collection));
}

// 503 for a busy, closing or unreachable database or a statement past
// --statement-timeout-ms, 500 otherwise; the details go to the log only.
Response database_failure(const Request& req, const std::system_error& e) {
  const auto code = e.code();
  std::fprintf(stderr, "weft-serve: %.*s %.*s: %s\n", static_cast<int>(req.method().size()),
               req.method().data(), static_cast<int>(req.path().size()), req.path().data(),
               e.what());
  if (code == std::errc::timed_out) {
    Response res =
        error_response(503,
                       "the query ran past the server's time limit (--statement-timeout-ms);"
                       " narrow it (filters, _limit) or retry later");
    res.header("Retry-After", "1");
    return res;
  }
  if (code == db::errc::busy || code == db::errc::locked || code == db::errc::closed ||
      code == std::errc::operation_canceled || code == weft::errc::queue_full) {
    Response res = error_response(503, "the database is busy or shutting down; retry");
    res.header("Retry-After", "1");
    return res;
  }
  // PostgreSQL down, restarting or unreachable: the connection broke or could not be made.
  // A write that gets this answer was not acknowledged (it may have committed if the
  // connection broke during its COMMIT: a retry with the same id then gets 409).
  if (code == db::errc::connection_lost || code == db::errc::cant_open) {
    Response res = error_response(503, "the database is unreachable; retry");
    res.header("Retry-After", "1");
    return res;
  }
  return error_response(500, "the database failed (the server's log has the details)");
}

// Maps a failure to its response; 5xx details go to the log only.
Response failure_response(const Request& req, std::exception_ptr failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const BadRequest& e) {
    return error_response(e.status, e.what());
  } catch (const Conflict& e) {
    return error_response(409, e.what());
  } catch (const std::invalid_argument& e) {
    return error_response(400, e.what());
  } catch (const db::Error& e) {
    if (is_conflict(e)) return error_response(409, "an item with this id already exists");
    return database_failure(req, e);
  } catch (const std::system_error& e) {
    return database_failure(req, e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-serve: %.*s %.*s: %s\n", static_cast<int>(req.method().size()),
                 req.method().data(), static_cast<int>(req.path().size()), req.path().data(),
                 e.what());
    return error_response(500, "internal error (the server's log has the details)");
  }
}

std::string join_array(const std::vector<std::string>& docs) {
  std::size_t size = 2 + docs.size();
  for (const auto& d : docs) size += d.size();
  std::string out;
  out.reserve(size);
  out += '[';
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (i) out += ',';
    out += docs[i];
  }
  out += ']';
  return out;
}

// A Link entry as a relative reference (RFC 8288 §3, RFC 3986 §4.2): nothing of the
// request's Host goes into it, the collection is percent-encoded and `query` comes from
// with_param (encoded too), so a client cannot close the <...> or add a relation.
std::string link(const std::string& collection, std::string_view query, const char* rel) {
  return "</api/" + encode_segment(collection) + "?" + std::string(query) + ">; rel=\"" + rel +
         "\"";
}

// json-server's Link header for _page: first, prev, next, last. Overflow-free: the page
// and its size are positive, and the last page is total / size rounded up.
std::string page_links(const Request& req, const std::string& collection, const Window& w,
                       std::int64_t total) {
  const std::int64_t size = *w.limit, page = w.offset / size + 1;
  const std::int64_t last = std::max<std::int64_t>(1, total / size + (total % size != 0));
  auto at = [&](std::int64_t p, const char* rel) {
    return link(collection, with_param(req.query(), "_page", std::to_string(p)), rel);
  };
  std::string out = at(1, "first");
  if (page > 1) out += ", " + at(std::min(page - 1, last), "prev");
  if (page < last) out += ", " + at(page + 1, "next");
  return out + ", " + at(last, "last");
}

Response list_response(const Request& req, const std::string& collection, const Window& w,
                       const ListPage& page) {
  Response res = json_response(join_array(page.docs));
  res.header("X-Total-Count", std::to_string(page.total));
  if (w.paged && w.limit && *w.limit > 0) {
    res.header("Link", page_links(req, collection, w, page.total));
  } else if (w.capped && w.offset < page.total &&
             *w.limit < page.total - w.offset) {  // (no overflow)
    std::string next = with_param(req.query(), "_start", std::to_string(w.offset + *w.limit));
    res.header("Link",
               link(collection, with_param(next, "_limit", std::to_string(*w.limit)), "next"));
  }
  return res;
}

Task<Response> list_collections(Api& api) {
  json out = json::object();
  for (auto& [name, count] : co_await api.store.collections()) out[name] = count;
  co_return json_response(out.dump());
}

Task<Response> list(Api& api, Request& req) {
  std::string collection = param(req, "collection");
  ParsedQuery parsed = parse_list_query(req.query(), api.options.query_limits);
  if (auto* error = std::get_if<std::string>(&parsed)) co_return error_response(400, *error);
  Task<bool> checking = api.store.has_collection(collection);
  if (!co_await std::move(checking)) co_return not_found(collection, nullptr);
  Window w = window_of(std::get<ListQuery>(parsed), api.options.max_list);
  Task<ListPage> listing = api.store.list(collection, std::move(std::get<ListQuery>(parsed)), w);
  ListPage page = co_await std::move(listing);
  co_return list_response(req, collection, w, page);
}

Task<Response> get(Api& api, Request& req) {
  std::string collection = param(req, "collection"), id = param(req, "id");
  Task<std::optional<std::string>> getting = api.store.get(collection, id);
  std::optional<std::string> doc = co_await std::move(getting);
  if (doc) co_return json_response(std::move(*doc));
  Task<bool> checking = api.store.has_collection(collection);
  const bool known = co_await std::move(checking);
  co_return not_found(collection, known ? &id : nullptr);
}

Task<Response> create(Api& api, Request& req) {
  std::string collection = param(req, "collection");
  std::optional<DocId> id;
  std::string body = object_body(api, req, &id);
  // The Task is made in a statement of its own, so its arguments' temporaries end before
  // the suspension: GCC 12 mishandles temporaries that live across a co_await.
  Task<std::string> creating = api.store.create(collection, std::move(body), id.value_or(DocId{}));
  std::string stored = co_await std::move(creating);
  std::optional<DocId> stored_id = check_object(stored).id;
  // Percent-encoded: a client-chosen id can hold CR, LF, NUL, '/', '?' or any byte.
  std::string location =
      "/api/" + encode_segment(collection) + "/" + encode_segment(stored_id ? stored_id->key : "");
  Response res = json_response(std::move(stored), 201);
  res.header("Location", location);
  co_return res;
}

Task<Response> replace(Api& api, Request& req, bool merge) {
  std::string collection = param(req, "collection"), id = param(req, "id");
  std::string body = object_body(api, req);
  std::optional<std::string> stored;  // (no co_await inside ?: — GCC 12 miscompiles it)
  Task<std::optional<std::string>> updating =
      merge ? api.store.merge(collection, id, std::move(body))
            : api.store.replace(collection, id, std::move(body));
  stored = co_await std::move(updating);
  if (stored) co_return json_response(std::move(*stored));
  Task<bool> checking = api.store.has_collection(collection);
  const bool known = co_await std::move(checking);
  co_return not_found(collection, known ? &id : nullptr);
}

Task<Response> remove(Api& api, Request& req) {
  std::string collection = param(req, "collection"), id = param(req, "id");
  Task<bool> removing = api.store.remove(collection, id);
  if (co_await std::move(removing)) co_return json_response("{}");
  Task<bool> checking = api.store.has_collection(collection);
  const bool known = co_await std::move(checking);
  co_return not_found(collection, known ? &id : nullptr);
}

// Runs a route's coroutine, turning every failure into its response.
template <class F>
http::Handler guarded(std::shared_ptr<Api> api, F route) {
  return [api = std::move(api), route](Request& req) -> Task<Response> {
    std::exception_ptr failure;
    try {
      co_return co_await route(*api, req);
    } catch (...) {
      failure = std::current_exception();
    }
    co_return failure_response(req, failure);
  };
}

Response read_only(Request&) {
  Response res = error_response(405, "weft-serve runs with --read-only: writes are refused");
  res.header("Allow", "GET, HEAD");
  return res;
}

Response preflight(Request&) {
  Response res(204);
  res.header("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
      .header("Access-Control-Allow-Headers", "Content-Type")
      .header("Access-Control-Max-Age", "86400");
  return res;
}

void mount_writes(http::Server& server, const std::shared_ptr<Api>& api) {
  server.post("/api/:collection", guarded(api, create));
  server.put("/api/:collection/:id",
             guarded(api, [](Api& a, Request& r) { return replace(a, r, false); }));
  server.patch("/api/:collection/:id",
               guarded(api, [](Api& a, Request& r) { return replace(a, r, true); }));
  server.del("/api/:collection/:id", guarded(api, remove));
}

void mount_read_only(http::Server& server) {
  server.post("/api/:collection", read_only);
  server.put("/api/:collection/:id", read_only);
  server.patch("/api/:collection/:id", read_only);
  server.del("/api/:collection/:id", read_only);
}

}  // namespace

http::Response error_response(int status, std::string_view message) {
  json body = {{"error", message}};
  return Response::json(body.dump(-1, ' ', false, json::error_handler_t::replace), status);
}

// The HTTP layer's own errors (400/408/413/414/417/431 from the parser and timeouts,
// 404/405 from the router, 500s) take the API's form on /api paths and where no path was
// parsed: JSON with CORS, like the API's own errors. Static files and /_weft/ keep text.
void shape_errors(http::Server& server, bool cors) {
  server.on_error([cors](const Request& req, const http::HttpError& e) {
    const std::string_view path = req.path();
    const bool api_form = path.empty() || path == "/api" || path.starts_with("/api/");
    if (!api_form) return Response::text(std::string(e.what()) + "\n", e.status());
    Response res = error_response(e.status(), e.what());
    if (cors) {
      res.header("Access-Control-Allow-Origin", "*");
      res.header("Access-Control-Expose-Headers", "X-Total-Count, Link, Location");
    }
    return res;
  });
}

void mount_api(http::Server& server, Store& store, const ServeOptions& options) {
  shape_errors(server, options.cors);
  auto api = std::make_shared<Api>(Api{store, options});
  server.get("/api", guarded(api, [](Api& a, Request&) { return list_collections(a); }));
  server.get("/api/:collection", guarded(api, list));
  server.get("/api/:collection/:id", guarded(api, get));
  if (options.read_only)
    mount_read_only(server);
  else
    mount_writes(server, api);
  if (options.cors) server.route("OPTIONS", "/api/*", preflight);
  server.get("/api/*", [](Request& req) {
    return error_response(404, "no such API path: " + quote_name(req.path()));
  });
  if (options.cors) {
    // Not on /_weft/: its stats and stacks must stay unreadable to other origins.
    server.after([](const Request& req, Response& res) {
      if (observe::is_under_prefix(req.path(), "/_weft")) return;
      res.header("Access-Control-Allow-Origin", "*");
      res.header("Access-Control-Expose-Headers", "X-Total-Count, Link, Location");
    });
  }
}

}  // namespace weft::serve
