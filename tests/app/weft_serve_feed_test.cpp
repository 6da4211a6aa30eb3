// weft-serve's change feed, driven as a client would: server-sent events on
// /api/:collection/_changes and WebSocket on /api/_ws, against SQLite and PostgreSQL.
// Every acknowledged write is seen exactly once, in id (commit) order; a refused write is
// never seen; cursors resume; a cursor older than the kept history is told to reload; on
// PostgreSQL a write through one process reaches a subscriber of another (LISTEN/NOTIFY).
#include "app/serve_backends.hpp"
#include "app/serve_process.hpp"
#include "integration/ws_test_client.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>

#include <map>
#include <mutex>
#include <thread>

namespace weft::serve_test {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct SseEvent {
  std::int64_t id = -1;
  std::string event = "message";
  json data;
};

// An EventSource-like reader over a raw socket. HTTP/1.0, so the body is the bare stream
// (no chunked framing to undo).
class SseReader {
 public:
  SseReader(std::uint16_t port, const std::string& target, const std::string& headers = "",
            int rcvbuf = 0) {
    conn_ = itest::RawClient::tcp(port, rcvbuf);
    conn_.send(itest::get_request(target, headers, "HTTP/1.0"));
  }

  // The status line and head; "" on timeout.
  std::string head(Ms timeout = 5000ms) {
    if (!fill_until("\r\n\r\n", timeout)) return "";
    const auto end = buf_.find("\r\n\r\n");
    std::string h = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    return h;
  }

  // The next event (comments and retry lines skipped); nullopt on timeout or close.
  std::optional<SseEvent> next(Ms timeout = 5000ms) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
      if (!fill_until("\n\n", std::max(left, Ms(0)))) return std::nullopt;
      const auto end = buf_.find("\n\n");
      std::string block = buf_.substr(0, end);
      buf_.erase(0, end + 2);
      SseEvent ev;
      bool has_data = false;
      std::size_t at = 0;
      while (at <= block.size()) {
        auto nl = block.find('\n', at);
        std::string line = block.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        at = nl == std::string::npos ? block.size() + 1 : nl + 1;
        if (line.starts_with("id: ")) ev.id = std::stoll(line.substr(4));
        if (line.starts_with("event: ")) ev.event = line.substr(7);
        if (line.starts_with("data: ")) {
          ev.data = json::parse(line.substr(6));
          has_data = true;
        }
        if (line.starts_with(": ")) ++comments;
      }
      if (has_data) return ev;
    }
  }

  // Whether the server ended the stream (EOF) within `timeout`.
  bool closed(Ms timeout) {
    fill_until("\x01never", timeout);
    return eof_;
  }

  int comments = 0;

 private:
  bool fill_until(const std::string& marker, Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    while (buf_.find(marker) == std::string::npos) {
      if (eof_) return false;
      const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{conn_.fd(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::recv(conn_.fd(), chunk, sizeof chunk, 0);
      if (n <= 0) {
        eof_ = true;
        return false;
      }
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }

  itest::RawClient conn_;
  std::string buf_;
  bool eof_ = false;
};

class WeftServeFeed : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override { db_url_ = make_database_url(GetParam(), dir_); }
  void start(ServeProcess& p, std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), {"--db", db_url_});
    ASSERT_TRUE(p.start(flags, dir_.path())) << p.output();
  }
  json stats(std::uint16_t port) {
    ApiClient c(port);
    return json::parse(c.get("/_weft/stats").body);
  }
  TempDir dir_;
  std::string db_url_;
};

// What a subscriber must see: the ops of acknowledged writes, by id.
struct Expected {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> ops_by_doc;  // doc_id -> ops in order
  std::size_t count = 0;
  void add(const std::string& doc, const std::string& op) {
    std::lock_guard lock(mu);
    ops_by_doc[doc].push_back(op);
    ++count;
  }
};

// 4 writers on `port`: each creates 5 documents, patches and replaces each, deletes two,
// and sends one create with a taken id (409: never a change).
void write_mix(std::uint16_t port, int writer, Expected& want) {
  ApiClient c(port);
  for (int i = 0; i < 5; ++i) {
    // Ids of the writer's own (automatic ids are reused after a delete, by any writer).
    const std::string id = "w" + std::to_string(writer) + "-" + std::to_string(i);
    auto r = c.post("/api/posts", R"({"id":")" + id + "\"}");
    ASSERT_EQ(r.status, 201) << r.body;
    want.add(id, "create");
    ASSERT_EQ(c.send("PATCH", "/api/posts/" + id, R"({"p":1})").status, 200);
    want.add(id, "update");
    ASSERT_EQ(c.send("PUT", "/api/posts/" + id, R"({"r":2})").status, 200);
    want.add(id, "update");
    if (i < 2) {
      ASSERT_EQ(c.send("DELETE", "/api/posts/" + id).status, 200);
      want.add(id, "delete");
    } else if (i == 2) {
      ASSERT_EQ(c.post("/api/posts", R"({"id":")" + id + "\"}").status, 409);
    }
  }
}

// Reads `n` change events; checks ids increase and returns the ops by document.
std::map<std::string, std::vector<std::string>> read_changes(SseReader& sse, std::size_t n,
                                                             std::vector<std::int64_t>& ids) {
  std::map<std::string, std::vector<std::string>> got;
  std::int64_t last = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto ev = sse.next();
    if (!ev) {
      ADD_FAILURE() << "only " << i << " of " << n << " events";
      break;
    }
    EXPECT_EQ(ev->event, "message");
    EXPECT_GT(ev->id, last) << "ids must increase";
    EXPECT_EQ(ev->data["id"].get<std::int64_t>(), ev->id);
    last = ev->id;
    ids.push_back(ev->id);
    const json& doc_id = ev->data["doc_id"];
    got[doc_id.is_string() ? doc_id.get<std::string>() : doc_id.dump()].push_back(
        ev->data["op"].get<std::string>());
    if (ev->data["op"] == "delete") {
      EXPECT_TRUE(ev->data["doc"].is_null());
    } else {
      EXPECT_EQ(ev->data["doc"]["id"], ev->data["doc_id"]);
    }
  }
  return got;
}

TEST_P(WeftServeFeed, SseSeesEveryAcknowledgedWriteOnceInOrder) {
  ServeProcess server;
  start(server, {"--workers", "2", "--feed-heartbeat-ms", "200"});
  SseReader sse(server.port(), "/api/posts/_changes?since=0");
  std::string head = sse.head();
  EXPECT_NE(head.find(" 200 "), std::string::npos) << head;
  EXPECT_NE(head.find("text/event-stream"), std::string::npos) << head;
  Expected want;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) writers.emplace_back([&, w] { write_mix(server.port(), w, want); });
  for (auto& t : writers) t.join();
  std::vector<std::int64_t> ids;  // (PostgreSQL: a rolled-back write leaves a gap)
  auto got = read_changes(sse, want.count, ids);
  EXPECT_EQ(got, want.ops_by_doc);
  EXPECT_FALSE(sse.next(600ms)) << "an event no write was acknowledged for";
  EXPECT_GE(sse.comments, 1) << "heartbeats";
  // Resuming after the 10th change gives the rest, from the 11th (the header wins).
  ASSERT_GE(ids.size(), 11u);
  SseReader again(server.port(), "/api/posts/_changes?since=0",
                  "Last-Event-ID: " + std::to_string(ids[9]) + "\r\n");
  for (std::size_t i = 10; i < ids.size(); ++i) {
    auto ev = again.next();
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->id, ids[i]);
  }
  EXPECT_EQ(stats(server.port())["feed"]["changes"].get<std::size_t>(), want.count);
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.output();
}

TEST_P(WeftServeFeed, BadCursorsAndNamesAreRefused) {
  ServeProcess server;
  start(server);
  ApiClient c(server.port());
  EXPECT_EQ(c.get("/api/posts/_changes?since=abc").status, 400);
  EXPECT_EQ(c.get("/api/posts/_changes?since=-1").status, 400);
  EXPECT_EQ(c.get("/api/b%20d/_changes").status, 400);
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.output();
}

TEST_P(WeftServeFeed, CursorOlderThanTheHistoryIsToldToReload) {
  ServeProcess server;
  start(server, {"--changes-history", "5"});
  ApiClient c(server.port());
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.post("/api/posts", "{}").status, 201);
  // Pruning follows the feed's read of the 20 changes: wait for it to be visible.
  std::optional<SseEvent> ev;
  for (auto until = Clock::now() + 5s; Clock::now() < until;) {
    SseReader sse(server.port(), "/api/posts/_changes?since=1");
    ev = sse.next();
    if (ev && ev->event == "reload") break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->event, "reload");
  EXPECT_EQ(ev->id, 20);
  EXPECT_EQ(ev->data["op"], "reload");
  // A cursor inside the history resumes normally.
  SseReader recent(server.port(), "/api/posts/_changes?since=17");
  auto got = recent.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, 18);
  // A cursor from the future (another database) reloads too.
  SseReader future(server.port(), "/api/posts/_changes?since=999");
  auto r = future.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->event, "reload");
  // And then it is live: the next write arrives.
  ASSERT_EQ(c.post("/api/posts", "{}").status, 201);
  auto live = future.next();
  ASSERT_TRUE(live);
  EXPECT_EQ(live->id, 21);
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.output();
}

std::string ws_text(itest::WsClient& ws) {
  auto f = ws.next();
  if (!f) return "<none: " + ws.error + ">";
  return f->kind == "text" ? f->payload : f->str();
}

TEST_P(WeftServeFeed, WebSocketSubscribesResumesAndUnsubscribes) {
  ServeProcess server;
  start(server, {"--workers", "2"});
  ApiClient c(server.port());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.post("/api/posts", R"({"n":1})").status, 201);
  ASSERT_EQ(c.post("/api/users", R"({"n":1})").status, 201);  // change 4: another collection
  auto ws = itest::WsClient::connect(server.port(), "/api/_ws");
  ASSERT_TRUE(ws.ok());
  ws.send(R"({"subscribe":"posts","since":1})");
  EXPECT_EQ(json::parse(ws_text(ws)), json({{"subscribed", "posts"}, {"id", 1}}));
  for (int id : {2, 3}) {
    json ev = json::parse(ws_text(ws));
    EXPECT_EQ(ev["id"], id);
    EXPECT_EQ(ev["collection"], "posts");
    EXPECT_EQ(ev["op"], "create");
    EXPECT_EQ(ev["doc"]["n"], 1);
  }
  ws.send(R"({"subscribe":"users"})");  // from now: after change 4
  EXPECT_EQ(json::parse(ws_text(ws)), json({{"subscribed", "users"}, {"id", 4}}));
  ASSERT_EQ(c.post("/api/users", R"({"n":2})").status, 201);
  ASSERT_EQ(c.send("DELETE", "/api/posts/1").status, 200);
  json a = json::parse(ws_text(ws)), b = json::parse(ws_text(ws));
  EXPECT_EQ(a["id"], 5);
  EXPECT_EQ(a["collection"], "users");
  EXPECT_EQ(b["id"], 6);
  EXPECT_EQ(b["op"], "delete");
  EXPECT_EQ(b["doc_id"], 1);
  ws.send(R"({"unsubscribe":"posts"})");
  EXPECT_EQ(json::parse(ws_text(ws)), json({{"unsubscribed", "posts"}}));
  ASSERT_EQ(c.send("DELETE", "/api/posts/2").status, 200);
  ASSERT_EQ(c.post("/api/users", "{}").status, 201);
  EXPECT_EQ(json::parse(ws_text(ws))["id"], 8) << "posts' change 7 is no longer sent";
  ws.send("not json");
  EXPECT_TRUE(json::parse(ws_text(ws)).contains("error"));
  ws.send(R"({"subscribe":"bad name"})");
  EXPECT_TRUE(json::parse(ws_text(ws)).contains("error"));
  ws.send_close(1000);
  auto frames = ws.until_closed(3000ms);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back(), "close:1000");
  ws.raw().close();  // our FIN: the server waits for it (up to its close timeout) to finish
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.output();
}

// A document larger than NOTIFY's 8,000-byte payload limit travels by id.
TEST_P(WeftServeFeed, TwoProcessesShareTheFeed) {
  ServeProcess a, b;
  start(a);
  start(b);
  SseReader sse(b.port(), "/api/posts/_changes?since=0");
  ApiClient c(a.port());
  const std::string big(20000, 'x');
  ASSERT_EQ(c.post("/api/posts", R"({"big":")" + big + "\"}").status, 201);
  for (int i = 0; i < 9; ++i) ASSERT_EQ(c.post("/api/posts", "{}").status, 201);
  auto first = sse.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->data["doc"]["big"], big);
  for (int id = 2; id <= 10; ++id) {
    auto ev = sse.next();
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->id, id);
  }
  if (GetParam() == BackendKind::postgres) {
    json feed = stats(b.port())["feed"];
    EXPECT_TRUE(feed["listener"]["connected"].get<bool>()) << feed;
    EXPECT_GE(feed["listener"]["notifications"].get<int>(), 1) << feed;
  }
  EXPECT_EQ(a.stop(SIGTERM), 0) << a.output();
  EXPECT_EQ(b.stop(SIGTERM), 0) << b.output();
}

// A subscriber that does not read is disconnected once --feed-max-buffer bytes wait for it
// (the server's memory stays bounded), and catches up from its last id when it returns.
TEST_P(WeftServeFeed, SlowSubscriberIsCutOffAndCatchesUp) {
  ServeProcess server;
  start(server, {"--feed-max-buffer", "65536"});
  SseReader slow(server.port(), "/api/posts/_changes?since=0", "", 4096);
  ASSERT_FALSE(slow.head().empty());
  ApiClient c(server.port());
  const std::string big(100000, 'x');
  constexpr int kDocs = 60;  // 6 MB: more than the socket buffers hold
  for (int i = 0; i < kDocs; ++i)
    ASSERT_EQ(c.post("/api/posts", R"({"big":")" + big + "\"}").status, 201);
  std::int64_t last = 0;
  int before = 0;
  while (auto ev = slow.next(2000ms)) {
    EXPECT_EQ(ev->id, last + 1);
    last = ev->id;
    ++before;
  }
  EXPECT_TRUE(slow.closed(1000ms)) << "the stream ended";
  EXPECT_LT(before, kDocs) << "the subscriber was cut off before the end";
  SseReader again(server.port(), "/api/posts/_changes",
                  "Last-Event-ID: " + std::to_string(last) + "\r\n");
  for (std::int64_t id = last + 1; id <= kDocs; ++id) {
    auto ev = again.next();
    ASSERT_TRUE(ev) << id;
    EXPECT_EQ(ev->id, id);
  }
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.output();
}

INSTANTIATE_TEST_SUITE_P(Backends, WeftServeFeed, ::testing::ValuesIn(backends()),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace weft::serve_test
