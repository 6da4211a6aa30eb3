// framework_server: the weft side of bench/framework/run.sh — the same two routes as
// express.mjs and fastify.mjs, behind the same three layers (an access log to a file,
// CORS, compression), so CPU per request can be set beside Express's and Fastify's.
//   GET /api/items → a JSON array of 50 small objects (3.6 KB), serialized per request
//   GET /plaintext → "Hello, World!"
//
//   framework_server --port N [--host 127.0.0.1] [--access-log FILE] [--log-format common|json]
//                    [--keep-alive-timeout SECONDS] [--no-middleware]
//
// The items are built the way express.mjs / fastify.mjs build them (keys in alphabetical
// order, as nlohmann::json keeps them), so the three servers send byte-identical bodies.
#include <weft/http/json.hpp>
#include <weft/weft.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

nlohmann::json make_items() {
  static constexpr const char* categories[] = {"books", "garden", "music", "tools", "toys"};
  nlohmann::json items = nlohmann::json::array();
  for (int i = 1; i <= 50; ++i) {
    items.push_back({{"category", categories[i % 5]},
                     {"id", i},
                     {"in_stock", i % 3 != 0},
                     {"name", "item " + std::to_string(i)},
                     {"price", (i * 7919) % 10000}});
  }
  return items;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", log_file = "access.log", log_format = "common";
  long port = 8080, keep_alive = 5;
  bool middleware = true, flag_error = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-middleware") {
      middleware = false;
      continue;
    }
    const char* value = i + 1 < argc ? argv[++i] : nullptr;
    if (value == nullptr) {
      flag_error = true;
    } else if (flag == "--port") {
      port = std::strtol(value, nullptr, 10);
    } else if (flag == "--host") {
      host = value;
    } else if (flag == "--access-log") {
      log_file = value;
    } else if (flag == "--log-format" &&
               (std::strcmp(value, "common") == 0 || std::strcmp(value, "json") == 0)) {
      log_format = value;
    } else if (flag == "--keep-alive-timeout") {
      keep_alive = std::strtol(value, nullptr, 10);
    } else {
      flag_error = true;
    }
    if (flag_error) {
      std::fprintf(
          stderr,
          "usage: framework_server --port N [--host ADDR] [--access-log FILE]"
          " [--log-format common|json] [--keep-alive-timeout SECONDS] [--no-middleware]\n");
      return 2;
    }
  }

  weft::Loop loop;
  weft::http::ServerOptions options;
  options.keep_alive_timeout = std::chrono::seconds(keep_alive);
  weft::http::Server app(loop, options);
  if (middleware) {
    const auto format = log_format == "json" ? weft::http::AccessLogFormat::json
                                             : weft::http::AccessLogFormat::common;
    app.use(weft::http::access_log(weft::http::log_to_file(log_file), {.format = format}));
    app.use(weft::http::cors());
    app.use(weft::http::compression());
  }
  const nlohmann::json items = make_items();
  app.get("/api/items",
          [&items](weft::http::Request&) { return weft::http::Response::json(items); });
  app.get("/plaintext", [](weft::http::Request&) {
    return weft::http::Response::bytes("Hello, World!", "text/plain");
  });
  if (auto ec = app.listen(static_cast<std::uint16_t>(port), host)) {
    std::fprintf(stderr, "framework_server: cannot listen on %s:%ld: %s\n", host.c_str(), port,
                 ec.message().c_str());
    return 1;
  }
  std::printf("framework_server listening on http://%s:%u (middleware %s)\n", host.c_str(),
              app.port(), middleware ? "on" : "off");
  std::fflush(stdout);

  weft::Signal sigint(loop), sigterm(loop);
  auto stop = [&](int) {
    sigint.close();
    sigterm.close();
    app.close(std::chrono::seconds(5), [] {});
  };
  (void)sigint.start(SIGINT, stop);
  (void)sigterm.start(SIGTERM, stop);
  loop.run();
  return 0;
}
