// static_files(root, options): a handler that serves a directory tree.
//
//   server.get("/*", weft::http::static_files("public"));
//   server.mount("/static", weft::http::static_files("public"));  // /static/a.js → public/a.js
//
// Under a route with a trailing "*" the file served is the wildcard's match (so
// `get("/static/*", ...)` serves public/a.js for /static/a.js, like mount()); under a
// route without one, the whole path.
// GET and HEAD. Directories serve their index file ("/dir" redirects to "/dir/" first);
// listings are off by default. MIME types by extension (text types get charset=utf-8);
// ETag and Last-Modified, with If-None-Match / If-Modified-Since → 304; one byte range
// (Range: bytes=…) → 206 with Content-Range, unsatisfiable → 416, If-Range honoured;
// Accept-Encoding picks a precompressed sibling (name.br, name.gz) when one exists, with
// Vary: Accept-Encoding. Bodies go out with sendfile.
//
// Files are opened and stat'ed on the pool (WorkClass::fs) the first time; after that a
// bounded cache of open descriptors and metadata answers on the loop thread with no pool
// round trip and no open() per request. A cached entry is trusted for `revalidate_after`;
// the next request after that re-checks the file on the pool (a changed file is reopened).
//
// Safety: the file served always lies inside root. The path is percent-decoded once;
// encoded separators (%2F, %5C), backslashes, NUL, invalid or overlong UTF-8, "." and ".."
// segments are rejected with 400; names starting with '.' (dotfiles: .env, .git/) are
// not served (404) unless allowed. Files are opened with openat2(RESOLVE_BENEATH), so a
// symlink leading out of root is never followed — nor is an absolute symlink, even one
// pointing inside root (use relative links there). Where the kernel lacks openat2, every
// path component is opened with O_NOFOLLOW instead: no symlink is followed at all.
// One handler may serve several loops at once (Server with workers > 1): each loop keeps
// a cache of its own (cache_entries each), created at its first request, with no lock.
#pragma once

#include <weft/clock.hpp>
#include <weft/http/router.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace weft::http {

struct StaticOptions {
  std::string index = "index.html";  // served for a directory; empty: none
  bool dotfiles = false;             // serve names starting with '.' (.well-known always)
  bool directory_listing = false;    // an HTML listing for a directory without index
  bool precompressed = true;         // look for name.br / name.gz siblings
  std::string cache_control = "public, max-age=0";  // empty: no Cache-Control header
  bool etag = true;
  bool last_modified = true;
  std::size_t cache_entries = 1024;  // open files kept; least recently used go first
  Duration revalidate_after = std::chrono::seconds(1);
};

// The handler. `root` must name a directory (checked at the first request: 500 and one
// log line if it cannot be opened).
Handler static_files(std::string root, StaticOptions options = {});

// The MIME type for a file name, by extension ("application/octet-stream" if unknown).
std::string_view mime_type(std::string_view filename) noexcept;

}  // namespace weft::http
