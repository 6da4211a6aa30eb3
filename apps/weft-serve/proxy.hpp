// weft-serve --proxy PREFIX=URL: requests under PREFIX are forwarded to URL through the
// loop's pooled HTTP client (weft::http_client), so a front end reaches another API
// through the same origin.
//
//   --proxy /ext/=http://127.0.0.1:9000/v1/   GET /ext/users?id=1 → GET
//   http://127.0.0.1:9000/v1/users?id=1
//
// Both directions stream: the request body goes up as it arrives (chunked), the response
// body comes down piece by piece (chunked to the client); bodies pass through unchanged
// (no decompression: Content-Encoding is forwarded). Hop-by-hop fields (Connection and
// the fields it names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) and
// Host are not forwarded either way; X-Forwarded-For (appended), X-Forwarded-Host and
// X-Forwarded-Proto are added. Redirects are passed to the client, not followed. An
// upstream that fails answers 502 with the client's reason as JSON ({"error": "upstream:
// TLS certificate of 127.0.0.1:9443 rejected: certificate verify failed: ...", "kind":
// "tls"}); 504 for a timeout; a client that goes away cancels the upstream exchange.
//
// https:// upstreams: the certificate is verified (system CA store, the URL's host) unless
// told otherwise: ca_file (--proxy-cacert) trusts that PEM bundle instead, verify_tls = false
// (--proxy-insecure) accepts any certificate. Without either, each loop's default client
// carries the requests; with one, a client of the loop's own (Loop::local) with those
// options.
#pragma once

#include <weft/clock.hpp>
#include <weft/http/server.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace weft::serve {

struct ProxyRule {
  std::string prefix;    // "/ext/" (ends with '/')
  std::string upstream;  // "http://host:port/base/" (ends with '/')
};

struct ProxyOptions {
  std::vector<ProxyRule> rules;
  Duration connect_timeout = std::chrono::seconds(5);
  Duration response_timeout = std::chrono::seconds(30);  // to the upstream's response head
  Duration idle_timeout = std::chrono::seconds(60);      // between two upstream body reads
  std::string ca_file;     // PEM bundle trusted for https upstreams instead of the system store
  bool verify_tls = true;  // false: any upstream certificate is accepted
  std::string forwarded_proto = "http";  // X-Forwarded-Proto: how clients reach us
};

// Parses "PREFIX=URL"; false when malformed (PREFIX must start with '/', URL with http://,
// https:// or http+unix://).
bool parse_proxy_rule(std::string_view text, ProxyRule& out);

// Routes every method under each rule's prefix (register before the catch-all routes).
void mount_proxy(http::Server& server, const ProxyOptions& options);

}  // namespace weft::serve
