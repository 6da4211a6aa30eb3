// The REST API of weft-serve on an http::Server: collections of JSON documents under /api.
//
//   GET    /api                      {"collection": count, ...}
//   GET    /api/:collection          a JSON array (see list_query.hpp), X-Total-Count, Link
//   POST   /api/:collection          201, the stored document (with its id), Location
//   GET    /api/:collection/:id      the document
//   PUT    /api/:collection/:id      replaces it (the id is kept)
//   PATCH  /api/:collection/:id      merges (RFC 7396 JSON Merge Patch; the id is kept)
//   DELETE /api/:collection/:id      200 {}
//
// Errors are JSON {"error": "..."}: 400 for bad JSON (naming the byte and the reason), a
// body that is not an object, a bad query parameter; 404 for an unknown collection or id;
// 405 for writes under --read-only; 409 for a duplicate id; 413 past the body limit (the
// server's); 415 for a body that is not JSON; 503 when the database is busy or closing;
// 500 for anything else, with the details in the server's log, not the response.
#pragma once

#include "options.hpp"
#include "store.hpp"

#include <weft/http/server.hpp>

namespace weft::serve {

// Adds the /api routes. `store` and `options` must outlive the server.
void mount_api(http::Server& server, Store& store, const ServeOptions& options);

// {"error": message} with `status`.
http::Response error_response(int status, std::string_view message);

}  // namespace weft::serve
