// static_files(): the handler, its cache and the pool side (opening files beneath root).
#include <weft/http/static_files.hpp>

#include "http/parse_chars.hpp"
#include "http/static_path.hpp"

#include <weft/async.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <list>
#include <unordered_map>
#include <vector>

namespace weft::http {
namespace {

using detail::PathVerdict;
using detail::SafePath;

// ---- the pool side: open beneath root ------------------------------------------------------

// Opens `rel` (relative, already sanitized) below dirfd without following symlinks out of
// it: openat2(RESOLVE_BENEATH); where the kernel lacks openat2, each component is opened
// with O_NOFOLLOW, so no symlink is followed at all.
int open_beneath(int dirfd, const std::string& rel, int flags) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const char* path = rel.empty() ? "." : rel.c_str();
  long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
  int dir = ::dup(dirfd);
  std::size_t start = 0;
  while (dir >= 0) {
    const std::size_t slash = rel.find('/', start);
    const std::string part = rel.substr(start, slash - start);
    const bool last = slash == std::string::npos;
    const int next = ::openat(dir, part.empty() ? "." : part.c_str(),
                              (last ? flags : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
    ::close(dir);
    if (last) return next;
    dir = next;
    start = slash + 1;
  }
  return -1;
}

// An open file and what responses about it need; the descriptor closes when the cache and
// every response still sending it have let go.
struct OpenedFile {
  int fd = -1;
  std::uint64_t size = 0;
  std::time_t mtime = 0;
  std::string etag;
  std::string last_modified;
  OpenedFile() = default;
  OpenedFile(const OpenedFile&) = delete;
  OpenedFile& operator=(const OpenedFile&) = delete;
  ~OpenedFile() {
    if (fd >= 0) ::close(fd);
  }
};

std::shared_ptr<const OpenedFile> describe(int fd, const struct stat& st) {
  auto f = std::make_shared<OpenedFile>();
  f->fd = fd;
  f->size = static_cast<std::uint64_t>(st.st_size);
  f->mtime = st.st_mtim.tv_sec;
  const auto ns = static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull +
                  static_cast<unsigned long long>(st.st_mtim.tv_nsec);
  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", ns, static_cast<unsigned long long>(f->size));
  f->etag = etag;
  f->last_modified = detail::format_http_date(f->mtime);
  return f;
}

// A regular file below root, or null.
std::shared_ptr<const OpenedFile> open_regular(int root_fd, const std::string& rel) {
  const int fd = open_beneath(root_fd, rel, O_RDONLY);
  if (fd < 0) return nullptr;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return nullptr;
  }
  return describe(fd, st);
}

enum class EntryKind { file, redirect, not_found, listing, error };

struct Entry {
  EntryKind kind = EntryKind::not_found;
  std::shared_ptr<const OpenedFile> identity, br, gz;
  std::string_view content_type;
  std::string listing;  // EntryKind::listing: the page
  int error = 0;        // EntryKind::error: the errno
  TimePoint validated_at{};
};

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string list_directory(int dir_fd, std::string_view url_path, bool dotfiles) {
  std::vector<std::pair<std::string, bool>> names;
  if (DIR* d = ::fdopendir(::dup(dir_fd))) {
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == ".." || (!dotfiles && name.front() == '.')) continue;
      names.emplace_back(name, e->d_type == DT_DIR);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::string html = "<!doctype html><meta charset=utf-8><title>Index of " + html_escape(url_path) +
                     "</title><h1>Index of " + html_escape(url_path) + "</h1><ul>\n";
  for (const auto& [name, is_dir] : names) {
    std::string shown = html_escape(name) + (is_dir ? "/" : "");
    html += "<li><a href=\"" + url_escape(name) + (is_dir ? "/" : "") + "\">" + shown + "</a>\n";
  }
  return html + "</ul>\n";
}

struct Settings {  // what a pool job needs, copied: the job must not touch loop state
  int root_fd;
  std::string index;
  bool precompressed;
  bool listing;
  bool dotfiles;
};

Entry load_directory(const Settings& s, int dir_fd, const SafePath& p,
                     const std::string& url_path) {
  Entry e;
  if (!p.trailing_slash) {
    e.kind = EntryKind::redirect;
    return e;
  }
  if (!s.index.empty()) {
    const std::string rel = p.relative.empty() ? s.index : p.relative + "/" + s.index;
    if (auto f = open_regular(s.root_fd, rel)) {
      e.kind = EntryKind::file;
      e.identity = std::move(f);
      e.content_type = mime_type(s.index);
      return e;
    }
  }
  if (s.listing) {
    e.kind = EntryKind::listing;
    e.listing = list_directory(dir_fd, url_path, s.dotfiles);
  }
  return e;
}

// Runs on the pool: everything a response about this path needs.
Entry load(const Settings& s, const SafePath& p, const std::string& url_path) {
  Entry e;
  const int fd = open_beneath(s.root_fd, p.relative, O_RDONLY);
  if (fd < 0) {
    const int err = errno;  // EXDEV/ELOOP: an escape attempt; like a missing file, a 404
    const bool missing = err == ENOENT || err == ENOTDIR || err == EXDEV || err == ELOOP ||
                         err == EACCES || err == ENAMETOOLONG;
    e.kind = missing ? EntryKind::not_found : EntryKind::error;
    e.error = err;
    return e;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
    ::close(fd);
    return e;
  }
  if (S_ISDIR(st.st_mode)) {
    e = load_directory(s, fd, p, url_path);
    ::close(fd);
    return e;
  }
  if (p.trailing_slash) {  // "/index.html/" names a directory that is not there: 404, as nginx
    ::close(fd);
    e.kind = EntryKind::not_found;
    return e;
  }
  e.kind = EntryKind::file;
  e.identity = describe(fd, st);
  e.content_type = mime_type(p.relative);
  if (s.precompressed) {
    e.br = open_regular(s.root_fd, p.relative + ".br");
    e.gz = open_regular(s.root_fd, p.relative + ".gz");
  }
  return e;
}

// ---- the loop side: cache and responses ------------------------------------------------------

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// One loop's cache of entries: least recently used first out. Used by its loop's thread only.
class FileCache {
 public:
  FileCache(std::size_t capacity, Duration revalidate_after)
      : capacity_(std::max<std::size_t>(1, capacity)), revalidate_after_(revalidate_after) {}
  const Entry* find(const std::string& key, TimePoint now);
  const Entry& insert(std::string key, Entry e);

 private:
  using Lru = std::list<std::pair<std::string, Entry>>;
  std::size_t capacity_;
  Duration revalidate_after_;
  Lru lru_;  // most recently used first
  std::unordered_map<std::string_view, Lru::iterator, StringHash, std::equal_to<>> index_;
};

// The handler's state. One handler may serve several loops at once (a Server with
// workers > 1): the root and options are read-only, and each loop gets a FileCache of its
// own, found without a lock (a list that only grows, one node per loop, pushed with CAS).
// A node is keyed by the loop's address; it holds no loop handles, so a node left by a
// destroyed loop is harmless (its entries are revalidated like any others).
class StaticState {
 public:
  StaticState(std::string root, StaticOptions options)
      : root_(std::move(root)), options_(std::move(options)) {
    root_fd_ = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    root_errno_ = root_fd_ < 0 ? errno : 0;
  }
  ~StaticState() {
    for (CacheNode* n = caches_.load(std::memory_order_acquire); n;)
      delete std::exchange(n, n->next);
    if (root_fd_ >= 0) ::close(root_fd_);
  }
  StaticState(const StaticState&) = delete;
  StaticState& operator=(const StaticState&) = delete;

  std::optional<Response> quick(Request& req);
  Task<Response> serve(Request& req);

 private:
  struct CacheNode {
    const Loop* loop;
    FileCache cache;
    CacheNode* next;
  };
  FileCache& cache_for(const Loop& loop);
  std::optional<Response> precheck(Request& req, SafePath& p);
  Response respond(const Entry& e, Request& req) const;
  Response respond_file(const Entry& e, Request& req) const;
  static std::string key_of(const SafePath& p) {
    return p.relative + (p.trailing_slash ? "/" : "");
  }
  Settings settings() const {
    return {root_fd_, options_.index, options_.precompressed, options_.directory_listing,
            options_.dotfiles};
  }

  std::string root_;
  StaticOptions options_;
  int root_fd_ = -1;
  int root_errno_ = 0;
  std::atomic<bool> root_error_logged_{false};
  std::atomic<CacheNode*> caches_{nullptr};
};

// Only `loop`'s thread adds a node for `loop`, so there is never a second one for it.
FileCache& StaticState::cache_for(const Loop& loop) {
  CacheNode* head = caches_.load(std::memory_order_acquire);
  for (CacheNode* n = head; n; n = n->next) {
    if (n->loop == &loop) return n->cache;
  }
  auto* node =
      new CacheNode{&loop, FileCache(options_.cache_entries, options_.revalidate_after), head};
  while (!caches_.compare_exchange_weak(node->next, node, std::memory_order_release,
                                        std::memory_order_acquire)) {
  }
  return node->cache;
}

// Method, root and path checks that need no file system.
std::optional<Response> StaticState::precheck(Request& req, SafePath& p) {
  if (req.method() != "GET" && req.method() != "HEAD") {
    Response r = Response::status(405);
    r.header("Allow", "GET, HEAD");
    return r;
  }
  if (root_fd_ < 0) {
    if (!root_error_logged_.exchange(true, std::memory_order_relaxed)) {
      std::fprintf(stderr, "weft.http: static_files root '%s': %s\n", root_.c_str(),
                   std::strerror(root_errno_));
    }
    return Response::status(500);
  }
  // Under a "/*" route (or Server::mount) the file is the wildcard's match: mounted at
  // "/static", "/static/app.js" serves root/app.js. The redirect and listing keep the
  // request's own path.
  if (req.has_param("*")) {
    std::string served = "/";
    served.append(req.raw_param("*"));
    p = detail::sanitize_path(served, options_.dotfiles);
  } else {
    p = detail::sanitize_path(req.path(), options_.dotfiles);
  }
  if (p.verdict == PathVerdict::bad_request) return Response::status(400);
  if (p.verdict == PathVerdict::not_found) return Response::status(404);
  return std::nullopt;
}

const Entry* FileCache::find(const std::string& key, TimePoint now) {
  auto it = index_.find(std::string_view(key));
  if (it == index_.end()) return nullptr;
  if (now - it->second->second.validated_at >= revalidate_after_) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->second;
}

const Entry& FileCache::insert(std::string key, Entry e) {
  if (auto it = index_.find(std::string_view(key)); it != index_.end()) {
    Lru::iterator node = it->second;
    index_.erase(it);
    lru_.erase(node);
  }
  lru_.emplace_front(std::move(key), std::move(e));
  index_.emplace(std::string_view(lru_.front().first), lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(std::string_view(lru_.back().first));
    lru_.pop_back();  // a response still sending the file keeps its descriptor open
  }
  return lru_.front().second;
}

std::optional<Response> StaticState::quick(Request& req) {
  SafePath p;
  if (auto early = precheck(req, p)) return early;
  Loop* loop = Loop::current();
  const Entry* e = loop ? cache_for(*loop).find(key_of(p), loop->now()) : nullptr;
  if (!e) return std::nullopt;
  return respond(*e, req);
}

Task<Response> StaticState::serve(Request& req) {
  SafePath p;
  if (auto early = precheck(req, p)) co_return std::move(*early);
  Loop& loop = current_loop();
  // A named job: GCC 12 mishandles lambda temporaries inside a co_await expression.
  auto job = [s = settings(), p, url = std::string(req.path())] { return load(s, p, url); };
  Entry e = co_await blocking(loop, std::move(job), WorkClass::fs);
  e.validated_at = loop.now();
  if (e.kind == EntryKind::error) {
    std::fprintf(stderr, "weft.http: static_files %.*s: %s\n", static_cast<int>(req.path().size()),
                 req.path().data(), std::strerror(e.error));
    co_return Response::status(500);
  }
  co_return respond(cache_for(loop).insert(key_of(p), std::move(e)), req);
}

Response StaticState::respond(const Entry& e, Request& req) const {
  switch (e.kind) {
    case EntryKind::file:
      return respond_file(e, req);
    case EntryKind::redirect: {
      Response r = Response::status(301);
      // One leading slash only: "//evil.com/" would be a network-path reference, an
      // open redirect to another host (RFC 3986 §4.2).
      std::string_view path = req.path();
      path.remove_prefix(std::min(path.find_first_not_of('/'), path.size()));
      std::string location = "/";
      location.append(path).append("/");
      if (!req.query().empty()) location.append("?").append(req.query());
      r.header("Location", location);
      return r;
    }
    case EntryKind::listing:
      return Response::bytes(e.listing, "text/html; charset=utf-8");
    case EntryKind::error:
      return Response::status(500);
    case EntryKind::not_found:
      break;
  }
  return Response::status(404);
}

}  // namespace

// ---- conditional requests, ranges, codings ----------------------------------------------------

namespace {

// Does an Accept-Encoding value allow `coding` (present, or "*", with q > 0)?
bool accepts(std::string_view header, std::string_view coding) {
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const std::size_t semi = item.find(';');
    std::string_view name = chars::trim_ows(item.substr(0, semi));
    if (!chars::iequals(name, coding) && name != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = chars::trim_ows(item.substr(semi + 1));
    if (params.starts_with("q=") || params.starts_with("Q=")) {
      params.remove_prefix(2);
      return !(params.starts_with("0") && params.find_first_not_of("0.") == std::string_view::npos);
    }
    return true;
  }
  return false;
}

bool etag_matches(std::string_view list, std::string_view etag) {
  if (chars::trim_ows(list) == "*") return true;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view tag = chars::trim_ows(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // weak comparison (RFC 9110 §13.1.2)
    if (tag == etag) return true;
  }
  return false;
}

struct ByteRange {
  enum class Kind { none, satisfiable, unsatisfiable } kind = Kind::none;
  std::uint64_t first = 0, last = 0;
};

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// One "bytes=first-last" / "bytes=first-" / "bytes=-suffix". Anything else — several
// ranges, other units, bad syntax such as "0x0-1" or "1-2x" — is ignored and the whole
// file is sent (RFC 9110 §14.2): each side is empty or all digits, never a guess.
ByteRange parse_range(std::string_view header, std::uint64_t size) {
  ByteRange r;
  if (!header.starts_with("bytes=")) return r;
  std::string_view spec = chars::trim_ows(header.substr(6));
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) return r;
  const std::string_view first_text = spec.substr(0, dash), last_text = spec.substr(dash + 1);
  auto first = parse_u64(first_text);
  auto last = parse_u64(last_text);
  if ((!first && !first_text.empty()) || (!last && !last_text.empty())) return r;
  if (!first && !last) return r;
  r.kind = ByteRange::Kind::unsatisfiable;
  if (!first) {  // suffix
    if (*last == 0 || size == 0) return r;
    r.first = *last >= size ? 0 : size - *last;
    r.last = size - 1;
  } else {
    if (last && *last < *first) return ByteRange{};  // invalid: ignored
    if (*first >= size) return r;
    r.first = *first;
    r.last = last ? std::min(*last, size - 1) : size - 1;
  }
  r.kind = ByteRange::Kind::satisfiable;
  return r;
}

// If-Match: strong comparison (RFC 9110 §13.1.1): "*" or the exact strong tag.
bool etag_matches_strong(std::string_view list, std::string_view etag) {
  if (chars::trim_ows(list) == "*") return true;
  if (etag.starts_with("W/")) return false;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    if (chars::trim_ows(list.substr(0, comma)) == etag) return true;
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return false;
}

// If-Match, else If-Unmodified-Since, evaluated first (RFC 9110 §13.2.2): false → 412.
// An unparseable If-Unmodified-Since date is ignored (§13.1.4).
bool precondition_failed(const OpenedFile& f, Request& req) {
  if (std::string_view im = req.header("If-Match"); !im.empty()) {
    return !etag_matches_strong(im, f.etag);
  }
  if (std::string_view ius = req.header("If-Unmodified-Since"); !ius.empty()) {
    auto since = detail::parse_http_date(ius);
    return since && f.mtime > *since;
  }
  return false;
}

bool not_modified(const OpenedFile& f, Request& req) {
  if (std::string_view inm = req.header("If-None-Match"); !inm.empty()) {
    return etag_matches(inm, f.etag);
  }
  if (std::string_view ims = req.header("If-Modified-Since"); !ims.empty()) {
    auto since = detail::parse_http_date(ims);
    return since && f.mtime <= *since;
  }
  return false;
}

// If-Range: the range applies only while the validator still matches (a strong ETag or
// the exact Last-Modified date).
bool range_applies(const OpenedFile& f, Request& req) {
  std::string_view if_range = chars::trim_ows(req.header("If-Range"));
  if (if_range.empty()) return true;
  if (if_range.starts_with("\"")) return if_range == f.etag;
  return if_range == f.last_modified;
}

}  // namespace

namespace {

Response StaticState::respond_file(const Entry& e, Request& req) const {
  const std::string_view range_header = req.header("Range");
  const OpenedFile* f = e.identity.get();
  std::string_view encoding;
  if (range_header.empty() && (e.br || e.gz)) {
    const std::string_view ae = req.header("Accept-Encoding");
    if (e.br && accepts(ae, "br")) {
      f = e.br.get(), encoding = "br";
    } else if (e.gz && accepts(ae, "gzip")) {
      f = e.gz.get(), encoding = "gzip";
    }
  }
  const std::shared_ptr<const OpenedFile>& owner = encoding == "br"     ? e.br
                                                   : encoding == "gzip" ? e.gz
                                                                        : e.identity;
  Response r(200);
  r.header("Content-Type", e.content_type);
  if (options_.etag) r.header("ETag", f->etag);
  if (options_.last_modified) r.header("Last-Modified", f->last_modified);
  if (!options_.cache_control.empty()) r.header("Cache-Control", options_.cache_control);
  if (e.br || e.gz) r.header("Vary", "Accept-Encoding");
  if (!encoding.empty()) r.header("Content-Encoding", encoding);
  if (precondition_failed(*f, req)) return Response::status(412);
  if (not_modified(*f, req)) {
    r.set_status(304);
    return r;
  }
  if (encoding.empty()) r.header("Accept-Ranges", "bytes");
  std::uint64_t offset = 0, length = f->size;
  if (!range_header.empty() && range_applies(*f, req)) {
    ByteRange range = parse_range(range_header, f->size);
    if (range.kind == ByteRange::Kind::unsatisfiable) {
      r.header("Content-Range", "bytes */" + std::to_string(f->size));
      r.set_status(416);
      return r;
    }
    if (range.kind == ByteRange::Kind::satisfiable) {
      offset = range.first;
      length = range.last - range.first + 1;
      r.header("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                    std::to_string(range.last) + "/" + std::to_string(f->size));
      r.set_status(206);
    }
  }
  r.set_file(FileBody{f->fd, offset, static_cast<std::size_t>(length), owner});
  return r;
}

}  // namespace

Handler static_files(std::string root, StaticOptions options) {
  auto state = std::make_shared<StaticState>(std::move(root), std::move(options));
  Handler h([state](Request& req) -> Task<Response> { return state->serve(req); });
  h.quick = [state](Request& req) { return state->quick(req); };
  return h;
}

}  // namespace weft::http
