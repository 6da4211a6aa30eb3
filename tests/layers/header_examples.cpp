// The examples at the top of the public headers, copied verbatim into functions that give
// them the names they assume (app, loop, db, id, ...): this file compiling (it is built in
// every preset, with -Werror in CI, by g++ and clang) is the test that they compile. When
// a header's example changes, change it here too. The program runs nothing.
#include <weft/http/json.hpp>
#include <weft/weft.hpp>

#include <cstdint>
#include <string>

namespace ex {

using weft::http::Request;
using weft::http::Response;

// include/weft/http/middleware.hpp
void middleware_hpp(weft::http::Server& app) {
  app.use([](Request& req, weft::http::Next next) -> weft::Task<Response> {
    if (req.header("Authorization").empty()) co_return Response::status(401);
    Response res = co_await next();
    res.header("X-Id", req.id());
    co_return res;
  });
  app.use("/api", [](Request&) -> std::optional<Response> { return std::nullopt; });
  app.use([](const Request&, Response&) {});
  using weft::http::body_limit;
  app.use("/upload", body_limit(50 * 1024 * 1024));
  app.use("/api", body_limit(64 * 1024));
}

// include/weft/http/cors.hpp, rate_limit.hpp, access_log.hpp, compression.hpp
void ready_layers(weft::http::Server& app) {
  app.use(weft::http::cors());
  app.use("/api", weft::http::cors({.origins = {"https://app.example"}, .credentials = true}));
  app.use("/api", weft::http::rate_limit({.per_ip = 10, .burst = 20}));
  app.use(weft::http::access_log(weft::http::log_to_fd(1)));
  app.use(weft::http::access_log(weft::http::log_to_file("access.log"),
                                 {.format = weft::http::AccessLogFormat::common}));
  app.use(weft::http::compression());
  app.use("/api", weft::http::compression({.min_size = 256}));
}

// include/weft/http/compression.hpp (a streamed body)
void streamed_compression(weft::http::Server& app) {
  app.get("/events", [](weft::http::Request&) {  // compressed as it streams
    return weft::http::Response::stream(
        "text/event-stream", [](weft::http::BodyWriter& w) -> weft::Task<void> {
          co_await w.write("data: 1\n\n");  // reaches the client compressed and flushed
        });
  });
}

// include/weft/http/multipart.hpp
void multipart_hpp(weft::http::Server& app) {
  app.route("POST", "/upload",
            [](weft::http::Request& req) -> weft::Task<weft::http::Response> {
              std::string title;
              co_await req.multipart([&](weft::http::Part& part) -> weft::Task<void> {
                if (part.is_file()) {
                  co_await part.save_to("uploads/" + std::string(req.id()));
                } else {
                  title = co_await part.text();
                }
              });
              co_return weft::http::Response::text("got " + title);
            },
            {.stream_body = true, .max_body = 64 * 1024 * 1024});
}

// include/weft/http/form.hpp, json.hpp, static_files.hpp, server.hpp (mount)
void bodies_and_files(weft::http::Server& app, weft::http::Server& server) {
  app.post("/login", [](weft::http::Request& req) -> weft::Task<weft::http::Response> {
    weft::http::Form form = co_await req.form();
    co_return weft::http::Response::text("hello " + form.get("user").value_or("?"));
  });
  app.post("/notes", [](weft::http::Request& req) {
    nlohmann::json note = req.json();
    return weft::http::Response::json({{"id", 1}, {"text", note.at("text")}}, 201);
  });
  server.get("/*", weft::http::static_files("public"));
  server.mount("/static", weft::http::static_files("public"));
  app.mount("/static", weft::http::static_files("public"));
  app.get("/x", [](Request&) { return Response(204).header("A", "1").header("B", "2"); });
  app.get("/y", [](Request&) -> weft::Task<Response> {
    co_return Response(204).header("A", "1").remove_header("A");
  });
}

// include/weft/db/database.hpp
weft::Task<void> database_hpp(weft::Loop& loop, std::int64_t id, std::int64_t from,
                              std::int64_t to) {
  auto db = weft::db::open(loop, "sqlite:app.db");
  weft::db::Params by_id{id};
  auto rs = co_await db->query("SELECT id, body FROM notes WHERE id = ?", by_id);
  auto transfer = [&](weft::db::Transaction& tx) -> weft::Task<void> {
    weft::db::Params a{from}, b{to};
    co_await tx.exec("UPDATE accounts SET n = n - 1 WHERE id = ?", a);
    co_await tx.exec("UPDATE accounts SET n = n + 1 WHERE id = ?", b);
  };
  co_await db->transaction(transfer);
  (void)rs;
  co_await db->close();
}

}  // namespace ex

int main() { return 0; }
