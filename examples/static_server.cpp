// static_server: serves a directory over HTTP with weft's static_files handler.
//
//   static_server --root DIR [--port 8080] [--host 127.0.0.1] [--listing]
//                 [--keep-alive-timeout SECONDS] [--tls-cert FILE --tls-key FILE]
// --tls-cert/--tls-key serve HTTPS (files are read and encrypted on the loop: no sendfile
// over TLS without kTLS).
// Stops gracefully on SIGINT / SIGTERM.
#include <weft/http/server.hpp>
#include <weft/http/static_files.hpp>
#include <weft/signal.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct Args {
  std::string root;
  std::uint16_t port = 8080;
  std::string host = "127.0.0.1";
  bool listing = false;
  long keep_alive_seconds = 5;
  std::string tls_cert, tls_key;
};

bool parse_args(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--listing") {
      args.listing = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    if (flag == "--root") {
      args.root = value;
    } else if (flag == "--port") {
      args.port = static_cast<std::uint16_t>(std::strtoul(value, nullptr, 10));
    } else if (flag == "--host") {
      args.host = value;
    } else if (flag == "--tls-cert") {
      args.tls_cert = value;
    } else if (flag == "--tls-key") {
      args.tls_key = value;
    } else if (flag == "--keep-alive-timeout") {
      args.keep_alive_seconds = std::strtol(value, nullptr, 10);
    } else {
      return false;
    }
  }
  return !args.root.empty() && args.tls_cert.empty() == args.tls_key.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) {
    std::fprintf(
        stderr,
        "usage: static_server --root DIR [--port N] [--host ADDR] [--listing]\n"
        "                     [--keep-alive-timeout SECONDS] [--tls-cert FILE --tls-key FILE]\n");
    return 2;
  }
  weft::Loop loop;
  weft::http::ServerOptions options;
  options.keep_alive_timeout = std::chrono::seconds(args.keep_alive_seconds);
  if (!args.tls_cert.empty()) {
    try {
      weft::tls::ServerConfig tls;
      tls.certificates.push_back(
          {.cert_file = args.tls_cert, .key_file = args.tls_key, .cert_pem = {}, .key_pem = {}});
      options.tls = weft::tls::Context::server(std::move(tls));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "static_server: %s\n", e.what());
      return 1;
    }
  }
  weft::http::Server server(loop, options);
  weft::http::StaticOptions statics;
  statics.directory_listing = args.listing;
  server.get("/*", weft::http::static_files(args.root, statics));
  if (auto ec = server.listen(args.port, args.host)) {
    std::fprintf(stderr, "static_server: cannot listen on %s:%u: %s\n", args.host.c_str(),
                 args.port, ec.message().c_str());
    return 1;
  }
  std::printf("static_server: serving %s on %s://%s:%u\n", args.root.c_str(),
              options.tls ? "https" : "http", args.host.c_str(), server.port());
  std::fflush(stdout);
  weft::Signal sigint(loop), sigterm(loop);
  auto stop = [&](int) {
    sigint.close();
    sigterm.close();
    server.close(std::chrono::seconds(5));
  };
  (void)sigint.start(SIGINT, stop);
  (void)sigterm.start(SIGTERM, stop);
  loop.run();
  return 0;
}
