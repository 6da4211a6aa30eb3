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
//              [--tls-cert FILE --tls-key FILE [--tls-handshake-timeout-ms MS]
//               [--tls-max-handshakes N] [--tls-inline-handshakes | --tls-pool-handshakes]]
//              [--cpu-pool-scheduling idle|batch|normal]
//
// --tls-cert/--tls-key serve HTTPS (PEM chain and key; scripts/make-cert makes a
// self-signed pair); SIGHUP reloads them (open connections keep the old ones).
// --tls-inline-handshakes runs handshakes on the loop instead of the cpu pool;
// --tls-pool-handshakes sends every signing step to the pool, even while no connection is
// established (tls::ServerConfig::handshake_inline_when_idle = false).
// --cpu-pool-scheduling: PoolOptions::cpu_scheduling (default normal).
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
#include <weft/pool.hpp>
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
  std::string tls_cert, tls_key;
  long tls_handshake_timeout_ms = -1;
  long tls_max_handshakes = -1;
  bool tls_inline = false;
  bool tls_pool = false;
  weft::PoolScheduling cpu_scheduling = weft::PoolOptions{}.cpu_scheduling;
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
    if (flag == "--tls-inline-handshakes") {
      args.tls_inline = true;
      continue;
    }
    if (flag == "--tls-pool-handshakes") {
      args.tls_pool = true;
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
    } else if (flag == "--tls-cert") {
      args.tls_cert = value;
    } else if (flag == "--tls-key") {
      args.tls_key = value;
    } else if (flag == "--tls-handshake-timeout-ms") {
      args.tls_handshake_timeout_ms = std::strtol(value, nullptr, 10);
    } else if (flag == "--tls-max-handshakes") {
      args.tls_max_handshakes = std::strtol(value, nullptr, 10);
    } else if (flag == "--cpu-pool-scheduling") {
      if (std::strcmp(value, "idle") == 0) {
        args.cpu_scheduling = weft::PoolScheduling::idle;
      } else if (std::strcmp(value, "batch") == 0) {
        args.cpu_scheduling = weft::PoolScheduling::batch;
      } else if (std::strcmp(value, "normal") == 0) {
        args.cpu_scheduling = weft::PoolScheduling::normal;
      } else {
        return false;
      }
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
                 " [--workers N] [--park-idle-after MS|never] [--observe [--no-watchdog]]"
                 " [--tls-cert FILE --tls-key FILE [--tls-handshake-timeout-ms MS]"
                 " [--tls-max-handshakes N] [--tls-inline-handshakes | --tls-pool-handshakes]]"
                 " [--cpu-pool-scheduling idle|batch|normal]\n");
    return 2;
  }
  if (args.tls_cert.empty() != args.tls_key.empty()) {
    std::fprintf(stderr, "hello_http: --tls-cert and --tls-key go together\n");
    return 2;
  }
  weft::PoolOptions pools;
  pools.cpu_scheduling = args.cpu_scheduling;
  weft::Loop loop({.runtime = std::make_shared<weft::Runtime>(pools), .clock = nullptr});
  weft::http::ServerOptions options;
  options.keep_alive_timeout = std::chrono::seconds(args.keep_alive_seconds);
  options.workers = args.workers;
  if (args.park_after_ms == -2) options.park_idle_after = weft::Duration::max();
  if (args.park_after_ms >= 0)
    options.park_idle_after = std::chrono::milliseconds(args.park_after_ms);
  if (!args.tls_cert.empty()) {
    weft::tls::ServerConfig tls;
    tls.certificates.push_back(
        {.cert_file = args.tls_cert, .key_file = args.tls_key, .cert_pem = {}, .key_pem = {}});
    if (args.tls_handshake_timeout_ms >= 0) {
      tls.handshake_timeout = std::chrono::milliseconds(args.tls_handshake_timeout_ms);
    }
    if (args.tls_max_handshakes >= 0)
      tls.max_handshakes = static_cast<std::size_t>(args.tls_max_handshakes);
    tls.handshake_on_pool = !args.tls_inline;
    tls.handshake_inline_when_idle = !args.tls_pool;
    try {
      options.tls = weft::tls::Context::server(std::move(tls));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "hello_http: %s\n", e.what());
      return 1;
    }
  }
  weft::ws::App server(loop, options);  // an http::Server with WebSocket routes
  auto echo = [](weft::ws::WebSocket& ws, std::string_view msg, weft::ws::Opcode op) {
    ws.send(msg, op);
  };
  server.ws("/ws",
            {.open = [](weft::ws::WebSocket& ws) { ws.subscribe("broadcast"); }, .message = echo});
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
  if (options.tls) {  // HTTPS only: browsers stay on it (HSTS, RFC 6797) and never sniff types
    server.after([](const weft::http::Request&, weft::http::Response& res) {
      res.header("Strict-Transport-Security", "max-age=31536000");
      res.header("X-Content-Type-Options", "nosniff");
    });
  }
  std::unique_ptr<weft::observe::Mount> observe;
  if (args.observe) {
    weft::observe::MountOptions mount_options;
    mount_options.monitor.watchdog = args.watchdog;
    observe = weft::observe::mount(server, std::move(mount_options));
  }
  if (auto ec = server.listen(args.port, args.host)) {
    std::fprintf(stderr, "hello_http: cannot listen on %s:%u: %s\n", args.host.c_str(), args.port,
                 ec.message().c_str());
    return 1;
  }
  std::printf("hello_http listening on %s://%s:%u (%u loop%s)\n", options.tls ? "https" : "http",
              args.host.c_str(), server.port(), server.workers(), server.workers() == 1 ? "" : "s");
  std::fflush(stdout);

  weft::Signal sigint(loop), sigterm(loop), sighup(loop);
  auto stop = [&](int) {
    sigint.close();
    sigterm.close();
    sighup.close();
    server.close(std::chrono::seconds(5), [&] {
      observe.reset();
      std::puts("hello_http: stopped");
    });
  };
  (void)sigint.start(SIGINT, stop);
  (void)sigterm.start(SIGTERM, stop);
  if (options.tls) {
    (void)sighup.start(SIGHUP, [&](int) {  // re-reads the certificate files
      try {
        options.tls.reload();
        std::printf("hello_http: certificates reloaded (generation %llu)\n",
                    static_cast<unsigned long long>(options.tls.generation()));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "hello_http: reload failed, keeping the old certificates: %s\n",
                     e.what());
      }
      std::fflush(stdout);
    });
    sighup.unref();
  }
  loop.run();
  return 0;
}
