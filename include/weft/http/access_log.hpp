// http::access_log(sink): one line per request, written off the loop thread.
//
//   app.use(weft::http::access_log(weft::http::log_to_fd(1)));            // JSON lines, stdout
//   app.use(weft::http::access_log(weft::http::log_to_file("access.log"),
//                                  {.format = weft::http::AccessLogFormat::common}));
//
// Fields: time (UTC, ms), request id (Request::id()), method, target, status, bytes of the
// body (0 for a streamed one: unknown when the line is made), duration in µs from the
// request's first byte (Request::start_time()) until its response was ready, peer address.
//   json:   {"time":"2026-12-03T15:04:05.123Z","id":"…","method":"GET","target":"/x",
//            "status":200,"bytes":13,"duration_us":84,"peer":"127.0.0.1:50312"}
//   common: 127.0.0.1 - - [03/Dec/2026:15:04:05 +0000] "GET /x HTTP/1.1" 200 13 <id> <µs>
//           (the Common Log Format with the id and the duration appended)
// The layer is an after-form: it also logs 404/405 and the parser's and timeouts' errors
// (target "-" when none was parsed). Add it first so it sees what every other layer did.
//
// Off the critical path: the loop only formats the line and appends it to a queue; one
// thread per access_log() hands batches of lines to the sink. The queue is bounded
// (max_queued_bytes): past it lines are dropped and counted, and the next line written
// says how many ("dropped N lines"), so a stuck disk never grows memory or blocks the loop.
// The thread ends (after writing what is queued) when the last server holding the layer
// is destroyed.
#pragma once

#include <weft/function.hpp>
#include <weft/http/middleware.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace weft::http {

enum class AccessLogFormat { json, common };

struct AccessLogOptions {
  AccessLogFormat format = AccessLogFormat::json;
  std::size_t max_queued_bytes = 4 * 1024 * 1024;
};

// Receives whole lines ('\n'-terminated, one or more), on the access log's own thread.
using AccessLogSink = Function<void(std::string_view lines)>;

// write(2) to a descriptor the caller keeps open (1: stdout, 2: stderr).
AccessLogSink log_to_fd(int fd);
// Appends to a file (created 0644 if missing, opened at the first write). An error is
// reported once on stderr; lines are then dropped.
AccessLogSink log_to_file(std::string path);

Middleware access_log(AccessLogSink sink, AccessLogOptions options = {});

}  // namespace weft::http
