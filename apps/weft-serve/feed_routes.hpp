// The change feed's two doors (feed.hpp has what they carry):
//
// GET /api/:collection/_changes — server-sent events (text/event-stream). Each change is
//   "id: N\ndata: <change JSON>\n\n"; a cursor too old (or from another database) gets
//   "id: M\nevent: reload\ndata: {"id":M,"collection":...,"op":"reload"}\n\n" (reload the
//   collection; changes after M follow). Resumes after `Last-Event-ID: N` (what
//   EventSource sends when it reconnects) or `?since=N` (the header wins); neither: live
//   from now. An idle stream gets a ": hb" comment every --feed-heartbeat-ms. The stream
//   opens with "retry: 1000" (EventSource's reconnection delay).
// /api/_ws — WebSocket. The client sends {"subscribe":"posts"} or
//   {"subscribe":"posts","since":N} and {"unsubscribe":"posts"}; the server answers
//   {"subscribed":"posts","id":N} once the subscription's start is known (changes after
//   N follow: `since`, or the newest committed change when none was given, or where a
//   reload resumes), {"unsubscribed":"posts"} or {"error":"..."}, then sends each
//   change as its JSON text (one message each) and the reload notice as above. A client
//   too slow for --feed-max-buffer is closed (1008, SSE: the stream ends) and resumes
//   with its last id.
// A collection need not exist yet (its first documents are changes too); an invalid name
// is refused (400, or an error message).
#pragma once

#include "feed.hpp"
#include "options.hpp"

#include <weft/ws/app.hpp>

#include <memory>

namespace weft::serve {

void mount_feed(ws::App& app, const std::shared_ptr<FeedHub>& hub, const ServeOptions& options);

}  // namespace weft::serve
