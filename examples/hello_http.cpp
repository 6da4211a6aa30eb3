// hello_http: the smallest useful weft HTTP server.
//   GET /plaintext → "Hello, World!"   GET / → 200   POST /echo → the request body
//   GET /ws → a WebSocket echo: each text or binary message is sent back as received
//   GET /ws-deflate → the same echo with permessage-deflate offered to clients
//   POST /publish → the body published to every /ws connection (topic "broadcast")
// Stops gracefully on SIGINT / SIGTERM.
//
//   hello_http --port 8080 [--host 127.0.0.1] [--keep-alive-timeout SECONDS] [--workers N]
//              [--park-idle-after MS|never]
//              [--observe [--no-watchdog]]
//
// --workers N: N loop threads, each with its own SO_REUSEPORT listener (0: one per core).
// The default, 1, serves on the main thread's loop only, as the single-loop benchmarks
// in docs/BENCHMARKS.md measure it.
// --observe mounts weft's observation endpoints (loop lag sampler, watchdog, metrics):
// /_weft/metrics, /_weft/stats, /_weft/stats/stream, answered from loopback only.
// --no-watchdog leaves out the watchdog thread (the process then stays single-threaded).
#include <weft/http/server.hpp>
#include <weft/ws/app.hpp>
#include <weft/observe/mount.hpp>
#include <weft/signal.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Args {
  std::uint16_t port = 8080;
  std::string host = "127.0.0.1";
  long keep_alive_seconds = 5;
  unsigned workers = 1;
  long park_after_ms = -1;  // -1: the server's default; "never": -2
  bool observe = false;
  bool watchdog = true;
};

bool parse_args(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--observe") {
      args.observe = true;
      continue;
    }
    if (flag == "--no-watchdog") {
      args.watchdog = false;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    if (flag == "--port") {
      args.port = static_cast<std::uint16_t>(std::strtoul(value, nullptr, 10));
    } else if (flag == "--host") {
      args.host = value;
    } else if (flag == "--keep-alive-timeout") {
      args.keep_alive_seconds = std::strtol(value, nullptr, 10);
    } else if (flag == "--park-idle-after") {  // milliseconds, or "never"
      args.park_after_ms = std::strcmp(value, "never") == 0 ? -2 : std::strtol(value, nullptr, 10);
    } else if (flag == "--workers") {
      args.workers = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: hello_http [--port N] [--host ADDR] [--keep-alive-timeout SECONDS]"
                 " [--workers N] [--park-idle-after MS|never] [--observe [--no-watchdog]]\n");
    return 2;
  }
  weft::Loop loop;
  weft::http::ServerOptions options;
  options.keep_alive_timeout = std::chrono::seconds(args.keep_alive_seconds);
  options.workers = args.workers;
  if (args.park_after_ms == -2) options.park_idle_after = weft::Duration::max();
  if (args.park_after_ms >= 0) options.park_idle_after = std::chrono::milliseconds(args.park_after_ms);
  weft::ws::App server(loop, options);  // an http::Server with WebSocket routes
  auto echo = [](weft::ws::WebSocket& ws, std::string_view msg, weft::ws::Opcode op) {
    ws.send(msg, op);
  };
  server.ws("/ws", {.open = [](weft::ws::WebSocket& ws) { ws.subscribe("broadcast"); },
                    .message = echo});
  server.post("/publish", [&server](weft::http::Request& req) {
    server.publish("broadcast", req.body());
    return weft::http::Response(204);
  });
  weft::ws::Options deflate;
  deflate.compression.enabled = true;
  server.ws("/ws-deflate", {.message = echo, .options = deflate});
  server.get("/plaintext", [](weft::http::Request&) {
    return weft::http::Response::bytes("Hello, World!", "text/plain");
  });
  server.get("/", [](weft::http::Request&) { return weft::http::Response::text("weft\n"); });
  server.post("/echo", [](weft::http::Request& req) {
    return weft::http::Response::bytes(req.body(), "application/octet-stream");
  });
  std::unique_ptr<weft::observe::Mount> observe;
  if (args.observe) {
    weft::observe::MountOptions mount_options;
    mount_options.monitor.watchdog = args.watchdog;
    observe = weft::observe::mount(server, std::move(mount_options));
  }
  if (auto ec = server.listen(args.port, args.host)) {
    std::fprintf(stderr, "hello_http: cannot listen on %s:%u: %s\n", args.host.c_str(),
                 args.port, ec.message().c_str());
    return 1;
  }
  std::printf("hello_http listening on http://%s:%u (%u loop%s)\n", args.host.c_str(),
              server.port(), server.workers(), server.workers() == 1 ? "" : "s");
  std::fflush(stdout);

  weft::Signal sigint(loop), sigterm(loop);
  auto stop = [&](int) {
    sigint.close();
    sigterm.close();
    server.close(std::chrono::seconds(5), [&] {
      observe.reset();
      std::puts("hello_http: stopped");
    });
  };
  (void)sigint.start(SIGINT, stop);
  (void)sigterm.start(SIGTERM, stop);
  loop.run();
  return 0;
}
