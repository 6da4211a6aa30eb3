// Flags are one table: name, argument, help, and a setter that validates the value. The
// help text is generated from the same table, so it cannot drift from what is parsed.
#include "options.hpp"

#include <weft/tls/context.hpp>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <functional>
#include <string_view>
#include <vector>

namespace weft::serve {
namespace {

using Setter = std::function<bool(ServeOptions&, std::string_view)>;

struct Flag {
  const char* name;
  const char* arg;  // nullptr: a switch without a value
  const char* help;
  Setter set;
};

template <class T>
bool parse_number(std::string_view s, T& out, T min, T max) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return false;
  out = v;
  return true;
}

// Seconds, fractions allowed ("0.5"), as a Duration.
bool parse_seconds(std::string_view s, Duration& out) {
  double v = 0;
  if (!parse_number(s, v, 0.0, 1e7)) return false;
  out = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(v));
  return true;
}

Setter text(std::string ServeOptions::*field) {
  return [field](ServeOptions& o, std::string_view v) {
    o.*field = std::string(v);
    return !v.empty();
  };
}

Setter seconds(Duration http::ServerOptions::*field) {
  return [field](ServeOptions& o, std::string_view v) { return parse_seconds(v, o.http.*field); };
}

Setter switch_on(bool ServeOptions::*field, bool value) {
  return [field, value](ServeOptions& o, std::string_view) {
    o.*field = value;
    return true;
  };
}

bool set_synchronous(ServeOptions& o, std::string_view v) {
  if (v == "full")
    o.synchronous = db::Synchronous::full;
  else if (v == "normal")
    o.synchronous = db::Synchronous::normal;
  else if (v == "off")
    o.synchronous = db::Synchronous::off;
  else
    return false;
  return true;
}

const std::vector<Flag>& flags() {
  static const std::vector<Flag> table = {
      {"--host", "ADDR", "address to listen on (IPv4/IPv6 literal); default 127.0.0.1",
       text(&ServeOptions::host)},
      {"--port", "N", "TCP port; 0 picks a free one; default 8080",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::uint16_t>(v, o.port, 0, 65535);
       }},
      {"--root", "DIR", "static files served at / (default: the bundled site)",
       text(&ServeOptions::root)},
      {"--tls-cert", "FILE",
       "serve HTTPS with this PEM certificate chain (with --tls-key);\n"
       "SIGHUP re-reads both files (open connections keep the old ones)",
       text(&ServeOptions::tls_cert)},
      {"--tls-key", "FILE", "the PEM private key of --tls-cert", text(&ServeOptions::tls_key)},
      {"--tls-redirect-from", "PORT",
       "also listen for plain HTTP on PORT (same --host) and answer 308 to https",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::uint16_t>(v, o.tls_redirect_from, 1, 65535);
       }},
      {"--db", "URL",
       "database: sqlite:PATH, sqlite::memory: or postgres://user@host:port/db;\n"
       "default sqlite:weft-data/weft.db (created on first start)",
       text(&ServeOptions::db_url)},
      {"--seed", "FILE",
       "json-server style file ({\"posts\": [...], ...}) imported into an empty database",
       text(&ServeOptions::seed)},
      {"--read-only", nullptr, "refuse writes (405)", switch_on(&ServeOptions::read_only, true)},
      {"--no-cors", nullptr, "no Access-Control-Allow-Origin headers",
       switch_on(&ServeOptions::cors, false)},
      {"--max-list", "N",
       "documents per list response when no _limit/_end is given; 0: all;\n"
       "default 10000 (Link: rel=\"next\" says there is more)",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.max_list, 0, SIZE_MAX);
       }},
      {"--max-filters", "N",
       "filter values (conditions) one list request may carry in all, e.g. a=1&a=2&b_ne=3\n"
       "is 3; more: 400; default 64",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.query_limits.max_filters, 1, 4096);
       }},
      {"--max-sort", "N", "_sort keys one list request may carry (more: 400); default 16",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.query_limits.max_sort, 1, 1024);
       }},
      {"--max-pattern", "BYTES",
       "longest _like value or q text (more: 400): matching costs its length for every\n"
       "string scanned; default 256",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.query_limits.max_pattern, 1, 1 << 20);
       }},
      {"--statement-timeout-ms", "MS",
       "time limit of every database statement; past it the request gets 503 and the\n"
       "connection goes on with the next one; 0: none; default 5000",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.statement_timeout_ms, 0, 86400000);
       }},
      {"--changes-history", "N",
       "change feed: the last N changes are kept for clients resuming with since /\n"
       "Last-Event-ID (older cursors get a reload event); default 10000",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.changes_history, 1, SIZE_MAX / 2);
       }},
      {"--feed-heartbeat-ms", "MS",
       "change feed: SSE comment sent when idle this long; default 15000",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.feed_heartbeat_ms, 10, 3600000);
       }},
      {"--feed-poll-ms", "MS",
       "change feed: read new changes at least this often (writes by other processes on\n"
       "one SQLite file; a lost PostgreSQL notification); default 1000",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.feed_poll_ms, 10, 3600000);
       }},
      {"--feed-max-buffer", "BYTES",
       "change feed: bytes queued for one slow subscriber before it is disconnected (it\n"
       "resumes from its last id); default 1048576",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.feed_max_buffer, 1024, SIZE_MAX / 2);
       }},
      {"--synchronous", "full|normal|off",
       "SQLite durability: full (default) survives machine crashes; normal survives\n"
       "process crashes only; off is for throwaway data",
       set_synchronous},
      {"--no-group-commit", nullptr,
       "SQLite: commit every write alone (one fsync each) instead of in groups",
       [](ServeOptions& o, std::string_view) {
         o.group_commit.enabled = false;
         return true;
       }},
      {"--group-max", "N",
       "SQLite: writes that queue while a commit runs share the next one (each in its own\n"
       "savepoint, each answered after that commit): at most N per group; default 256",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.group_commit.max_size, 1, 1 << 20);
       }},
      {"--group-wait-us", "US",
       "SQLite: how long a write that finds the writer idle waits for company before its\n"
       "commit; default 0 (never: groups form from what queued during the last commit)",
       [](ServeOptions& o, std::string_view v) {
         std::size_t us = 0;
         if (!parse_number<std::size_t>(v, us, 0, 1000000)) return false;
         o.group_commit.max_wait = std::chrono::microseconds(us);
         return true;
       }},
      {"--max-body", "BYTES", "largest request body (413 past it); default 1048576",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::uint64_t>(v, o.http.limits.max_body, 0, UINT64_MAX);
       }},
      {"--max-header-size", "BYTES", "largest header block (431 past it); default 16384",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.http.limits.max_header_block, 64, 1 << 24);
       }},
      {"--headers-timeout", "S", "seconds to receive a request head (408); default 60",
       seconds(&http::ServerOptions::headers_timeout)},
      {"--request-timeout", "S", "seconds to receive a whole request (408); default 300",
       seconds(&http::ServerOptions::request_timeout)},
      {"--keep-alive-timeout", "S", "idle seconds before a keep-alive connection closes; default 5",
       seconds(&http::ServerOptions::keep_alive_timeout)},
      {"--max-connections", "N", "open connections at most (more are closed); default 0: no limit",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.http.max_connections, 0, SIZE_MAX);
       }},
      {"--shutdown-timeout", "S",
       "on SIGINT/SIGTERM, seconds in-flight requests get before connections close; default 10",
       [](ServeOptions& o, std::string_view v) {
         return parse_number(v, o.shutdown_seconds, 0.0, 3600.0);
       }},
      {"--workers", "N",
       "loop threads, each with its own SO_REUSEPORT listener and connections, sharing\n"
       "the pools and the database; default 0: one per core",
       [](ServeOptions& o, std::string_view v) {
         return parse_number<std::size_t>(v, o.workers, 0, 256);
       }},
      {"--pool-nice", "N",
       "how much lower (nice 0..19) the database, file and CPU threads run than the loops,\n"
       "so the loops answer first when they share a core; 0: the same priority; default 10",
       [](ServeOptions& o, std::string_view v) {
         if (!parse_number(v, o.pools.io_nice, 0, 19)) return false;
         o.pools.cpu_nice = o.pools.io_nice;
         return true;
       }},
      {"--no-observe", nullptr, "no /_weft/ endpoints, dashboard or watchdog",
       switch_on(&ServeOptions::observe, false)},
      {"--observe-remote", nullptr,
       "answer /_weft/ (dashboard, metrics, stats) from any address (default: loopback only);\n"
       "remote clients' Host must still be allowed (--observe-host)",
       switch_on(&ServeOptions::observe_remote, true)},
      {"--observe-host", "NAME",
       "a host name (or address) /_weft/ answers for, besides localhost, 127.0.0.1, [::1]\n"
       "and --host; requests with another Host header get 403 (no DNS rebinding); repeatable",
       [](ServeOptions& o, std::string_view v) {
         o.observe_hosts.emplace_back(v);
         return !v.empty();
       }},
      {"--observe-token", "TOKEN",
       "also answer /_weft/ requests carrying \"Authorization: Bearer TOKEN\" from anywhere;\n"
       "visible to every local user in ps: prefer --observe-token-file or WEFT_OBSERVE_TOKEN",
       text(&ServeOptions::observe_token)},
      {"--observe-token-file", "PATH",
       "the same token read from a file (trailing white space dropped); without either flag,\n"
       "the environment variable WEFT_OBSERVE_TOKEN gives it",
       text(&ServeOptions::observe_token_file)},
      {"--watchdog-ms", "MS",
       "report a stall when one callback holds the loop this long; 0: off; default 100",
       [](ServeOptions& o, std::string_view v) {
         return parse_number(v, o.watchdog_ms, 0.0, 1e6);
       }},
      {"--proxy", "PREFIX=URL",
       "forward requests under PREFIX to URL through the pooled HTTP client, streaming both\n"
       "ways (e.g. /ext/=http://127.0.0.1:9000/v1/); repeatable",
       [](ServeOptions& o, std::string_view v) {
         ProxyRule rule;
         if (!parse_proxy_rule(v, rule)) return false;
         o.proxy.rules.push_back(std::move(rule));
         return true;
       }},
      {"--proxy-cacert", "FILE",
       "trust the CA certificates of this PEM file (instead of the system store) for https\n"
       "--proxy upstreams, like weft-fetch --cacert",
       [](ServeOptions& o, std::string_view v) {
         o.proxy.ca_file = std::string(v);
         return !v.empty();
       }},
      {"--proxy-insecure", nullptr,
       "accept any certificate from https --proxy upstreams (no verification; warned at startup)",
       [](ServeOptions& o, std::string_view) {
         o.proxy.verify_tls = false;
         return true;
       }},
      {"--proxy-connect-timeout", "S", "seconds to connect to a --proxy upstream; default 5",
       [](ServeOptions& o, std::string_view v) {
         return parse_seconds(v, o.proxy.connect_timeout);
       }},
      {"--proxy-timeout", "S",
       "seconds a --proxy upstream has to start its response (504 past it); default 30",
       [](ServeOptions& o, std::string_view v) {
         return parse_seconds(v, o.proxy.response_timeout);
       }},
      {"--proxy-idle-timeout", "S",
       "seconds between two pieces of a --proxy upstream's body; default 60",
       [](ServeOptions& o, std::string_view v) { return parse_seconds(v, o.proxy.idle_timeout); }},
      {"--demo", nullptr,
       "serve POST /_weft/demo/block?ms=N (burns CPU on the loop) and\n"
       "POST /_weft/demo/offload?ms=N (the same through offload()), for the dashboard's buttons",
       switch_on(&ServeOptions::demo, true)},
      {"--quiet", nullptr, "no start-up banner", switch_on(&ServeOptions::quiet, true)},
  };
  return table;
}

const Flag* find_flag(std::string_view name) {
  for (const Flag& f : flags()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

ParsedArgs fail(const std::string& message) {
  std::fprintf(stderr, "weft-serve: %s\n(weft-serve --help lists the flags)\n", message.c_str());
  return {std::nullopt, 2};
}

// The whole file without trailing white space (a final newline), or an error message.
// Read with stdio: GCC 12 at -O2 reports a null dereference inside libstdc++'s streambuf.
std::string read_token_file(const std::string& path, std::string& token) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "cannot read the token file " + path + ": " + std::strerror(errno);
  char buf[4096];
  token.clear();
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) token.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return "cannot read the token file " + path;
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) return "the token file " + path + " is empty";
  return {};
}

// Settles observe_token from the flag, the file or $WEFT_OBSERVE_TOKEN; an error message
// when they conflict or the token could not be sent in an Authorization header.
std::string resolve_observe_token(ServeOptions& o) {
  if (!o.observe_token.empty() && !o.observe_token_file.empty()) {
    return "--observe-token and --observe-token-file are exclusive";
  }
  if (!o.observe_token_file.empty()) {
    if (std::string error = read_token_file(o.observe_token_file, o.observe_token);
        !error.empty()) {
      return error;
    }
  } else if (const char* env = std::getenv("WEFT_OBSERVE_TOKEN"); env && o.observe_token.empty()) {
    o.observe_token = env;
  }
  for (char c : o.observe_token) {
    if (c <= ' ' || c >= 0x7f) return "the observe token must be printable ASCII without spaces";
  }
  return {};
}

// --proxy-cacert / --proxy-insecure: with --proxy, not together, and a CA file that loads
// (a bad one fails at startup, not at the first proxied request). Warns about
// --proxy-insecure here, once per process. Sets X-Forwarded-Proto from --tls-cert.
std::string check_proxy_tls(ServeOptions& o) {
  ProxyOptions& p = o.proxy;
  if (!o.tls_cert.empty()) p.forwarded_proto = "https";
  if (p.ca_file.empty() && p.verify_tls) return {};
  if (p.rules.empty()) return "--proxy-cacert and --proxy-insecure need --proxy";
  if (!p.ca_file.empty() && !p.verify_tls)
    return "--proxy-cacert and --proxy-insecure are exclusive";
  if (!p.verify_tls) {
    std::fputs(
        "weft-serve: warning: --proxy-insecure: the TLS certificates of https --proxy upstreams "
        "are "
        "not verified (anyone on the path can read and change that traffic)\n",
        stderr);
    return {};
  }
  tls::ClientConfig c;
  c.ca_file = p.ca_file;
  try {
    (void)tls::Context::client(c);
  } catch (const std::exception& e) {
    return "--proxy-cacert " + p.ca_file + ": " + e.what();
  }
  return {};
}

}  // namespace

std::string help_text() {
  std::string out =
      "weft-serve: a REST API over collections of JSON documents, plus static files.\n\n"
      "usage: weft-serve [flags]\n\n";
  for (const Flag& f : flags()) {
    std::string head = std::string("  ") + f.name + (f.arg ? std::string(" ") + f.arg : "");
    out += head + "\n";
    std::string_view help = f.help;
    while (!help.empty()) {
      auto nl = help.find('\n');
      out += "      " + std::string(help.substr(0, nl)) + "\n";
      help = nl == std::string_view::npos ? "" : help.substr(nl + 1);
    }
  }
  out +=
      "  --help\n      this text\n\n"
      "API: GET/POST /api/:collection, GET/PUT/PATCH/DELETE /api/:collection/:id,\n"
      "GET /api (collections). Lists take ?field=value, field_ne/_gte/_lte/_like, q,\n"
      "_sort/_order, _page/_limit, _start/_end. See the bundled site for examples.\n";
  return out;
}

ParsedArgs parse_args(int argc, char** argv) {
  ServeOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(help_text().c_str(), stdout);
      return {std::nullopt, 0};
    }
    const Flag* flag = find_flag(arg);
    if (!flag) return fail("unknown flag " + std::string(arg));
    if (flag->arg && value.empty()) {
      if (i + 1 >= argc) return fail(std::string(arg) + " needs a value (" + flag->arg + ")");
      value = argv[++i];
    }
    if (!flag->set(options, value)) {
      return fail("bad value '" + std::string(value) + "' for " + std::string(arg) +
                  (flag->arg ? std::string(" (expected ") + flag->arg + ")" : ""));
    }
  }
  if (std::string error = resolve_observe_token(options); !error.empty()) return fail(error);
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return fail("--tls-cert and --tls-key go together");
  }
  if (options.tls_redirect_from && options.tls_cert.empty()) {
    return fail("--tls-redirect-from needs --tls-cert and --tls-key");
  }
  if (std::string error = check_proxy_tls(options); !error.empty()) return fail(error);
  return {std::move(options), 0};
}

}  // namespace weft::serve
