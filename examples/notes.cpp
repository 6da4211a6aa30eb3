// notes --port N --db FILE --public DIR: the JSON service docs/EXPRESS.md sets beside Express.
// GET /health; SQLite notes: GET /notes?q=, POST /notes {"text"}, GET/PUT/DELETE /notes/:id;
// GET /report (word counts on the cpu pool); /static files; CORS, access log on stdout,
// compression, rate limit, JSON errors everywhere; SIGINT/SIGTERM stop it gracefully.
#include <weft/http/json.hpp>
#include <weft/weft.hpp>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>

using namespace weft;
using http::Request;
using http::Response;
using nlohmann::json;

namespace {

json note(const db::Row& r) {
  return {{"id", r.get<std::int64_t>(0)}, {"text", r.get<std::string>(1)}};
}

std::string text_of(Request& req) {
  json body = req.json();
  if (!body.is_object() || !body.contains("text") || !body["text"].is_string()) {
    throw http::HttpError(400, "expected {\"text\": string}");
  }
  return body["text"].get<std::string>();
}

std::int64_t id_of(Request& req) {
  try {
    return std::stoll(req.param("id"));
  } catch (const std::exception&) {
    throw http::HttpError(400, "the id is a number");
  }
}

json word_counts(const db::ResultSet& rows) {  // the CPU-heavy part: runs on the pool
  std::map<std::string, int> counts;
  for (const db::Row& r : rows) {
    std::istringstream words(r.get<std::string>(0));
    for (std::string w; words >> w;) ++counts[w];
  }
  return counts;
}

void routes(http::Server& app, db::Database& db) {
  app.get("/health", [](Request&) { return Response::json(json{{"status", "ok"}}); });
  app.get("/notes", [&db](Request& req) -> Task<Response> {
    db::Params like{"%" + req.query("q").value_or("") + "%"};
    db::ResultSet rows = co_await db.query("SELECT id, text FROM notes WHERE text LIKE ?", like);
    json out = json::array();
    for (const db::Row& r : rows) out.push_back(note(r));
    co_return Response::json(out);
  });
  app.post("/notes", [&db](Request& req) -> Task<Response> {
    db::Params text{text_of(req)};
    db::ResultSet done = co_await db.query("INSERT INTO notes(text) VALUES (?)", text);
    co_return Response::json(json{{"id", done.last_insert_id}, {"text", text[0].as_text()}}, 201);
  });
  app.get("/notes/:id", [&db](Request& req) -> Task<Response> {
    db::Params id{id_of(req)};
    db::ResultSet rows = co_await db.query("SELECT id, text FROM notes WHERE id = ?", id);
    if (rows.empty()) throw http::HttpError(404, "no such note");
    co_return Response::json(note(rows.front()));
  });
  app.put("/notes/:id", [&db](Request& req) -> Task<Response> {
    db::Params args{text_of(req), id_of(req)};
    db::ResultSet done = co_await db.query("UPDATE notes SET text = ? WHERE id = ?", args);
    if (done.rows_affected == 0) throw http::HttpError(404, "no such note");
    co_return Response::json(json{{"id", args[1].as_int()}, {"text", args[0].as_text()}});
  });
  app.del("/notes/:id", [&db](Request& req) -> Task<Response> {
    db::Params id{id_of(req)};
    db::ResultSet done = co_await db.query("DELETE FROM notes WHERE id = ?", id);
    if (done.rows_affected == 0) throw http::HttpError(404, "no such note");
    co_return Response(204);
  });
  app.get("/report", [&db](Request&) -> Task<Response> {
    db::ResultSet rows = co_await db.query("SELECT text FROM notes");
    auto job = [rows = std::move(rows)] { return word_counts(rows); };  // named: GCC 12
    json counts = co_await offload(std::move(job));
    co_return Response::json(counts);
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args{
      {"--port", "8080"}, {"--db", "notes.db"}, {"--public", "public"}};
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  Loop loop;
  auto db = db::open(loop, "sqlite:" + args["--db"]);
  http::Server app(loop);
  app.use(http::access_log(http::log_to_fd(1)));
  app.use(http::cors());
  app.use(http::compression());
  app.use("/notes", http::rate_limit({.per_ip = 50, .burst = 100}));
  app.use("/notes", http::body_limit(64 * 1024));
  app.on_error([](const Request&, const http::HttpError& e) {
    return Response::json(json{{"error", e.what()}, {"status", e.status()}}, e.status());
  });
  routes(app, *db);
  app.mount("/static", http::static_files(args["--public"]));
  Signal sigint(loop), sigterm(loop);
  auto stop = [&](int) {
    sigint.close(), sigterm.close();
    app.close(std::chrono::seconds(5), [&] { db.reset(); });
  };
  (void)sigint.start(SIGINT, stop), (void)sigterm.start(SIGTERM, stop);
  // Listens once the table exists (a read is not ordered after a write still in flight).
  db->exec("CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, text TEXT NOT NULL)", {},
           [&](db::Outcome<db::ResultSet>& r) {
             const std::error_code ec = r ? app.listen(std::stoi(args["--port"])) : r.error();
             std::printf("notes: %s (port %u)\n", ec ? ec.message().c_str() : "listening",
                         app.port());
             std::fflush(stdout);
             if (ec) stop(0);
           });
  loop.run();
}
