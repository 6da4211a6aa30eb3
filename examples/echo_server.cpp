// echo_server: a TCP echo server in weft's coroutine style — one coroutine per
// connection, each read under an idle timeout (with_timeout).
//
//   echo_server --port N [--host 127.0.0.1] [--idle-timeout SECONDS] [--callbacks]
//
// --callbacks serves with weft's callback API instead (the baseline of bench/net).
// Stops on SIGINT / SIGTERM.
#include <weft/net/tcp.hpp>
#include <weft/signal.hpp>
#include <weft/weft.hpp>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

namespace {

using namespace std::chrono_literals;

struct Args {
  std::uint16_t port = 9000;
  std::string host = "127.0.0.1";
  long idle_seconds = 30;
  bool callbacks = false;
};

bool parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--callbacks") {
      a.callbacks = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (flag == "--port")
      a.port = static_cast<std::uint16_t>(std::atoi(v));
    else if (flag == "--host")
      a.host = v;
    else if (flag == "--idle-timeout")
      a.idle_seconds = std::atol(v);
    else
      return false;
  }
  return true;
}

// One coroutine per connection. It accepts its connection, hands accepting over to a
// fresh coroutine, and echoes until the peer finishes, an error, or an idle read. The
// Stream lives in this frame (a Stream is not movable).
// Not recursion: the coroutine spawns its successor (clang's -Winfinite-recursion cannot
// tell a coroutine from a function).
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winfinite-recursion"
#endif
weft::Task<void> connection(weft::Loop& loop, weft::net::Listener& listener, weft::Duration idle) {
  std::optional<std::error_code> accept_error;
  try {
    weft::net::Stream s = co_await listener.accept();
    weft::spawn(loop, connection(loop, listener, idle));
    std::array<char, 16 * 1024> buf;
    try {
      for (;;) {
        const std::size_t n = co_await weft::with_timeout(idle, s.read_some(buf));
        if (n == 0) break;
        co_await s.write_all(std::string_view(buf.data(), n));
      }
      co_await s.shutdown();
    } catch (const std::system_error& e) {
      // reset by the peer, idle timeout...: the connection just ends
      if (std::getenv("ECHO_DEBUG")) std::fprintf(stderr, "connection: %s\n", e.what());
    }
    s.close();
  } catch (const std::system_error& e) {
    accept_error = e.code();  // EMFILE...: back off, then accept again
  }
  if (accept_error && *accept_error != std::errc::operation_canceled) {
    co_await weft::sleep(std::chrono::milliseconds(100));
    weft::spawn(loop, connection(loop, listener, idle));
  }
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

// The callback form, for comparison.
void serve_callbacks(weft::Loop& loop, weft::net::Listener& listener, std::error_code& ec,
                     const weft::net::SocketAddress& addr) {
  ec = listener.listen(addr, [&loop](weft::net::Socket sock) {
    auto* s = new weft::net::Stream(loop, std::move(sock));
    s->read_start([s](std::span<char> d) {
      s->write(std::string_view(d.data(), d.size()));
      return d.size();
    });
    s->on_end([s] { s->close([s] { delete s; }); });
    s->on_error([s](std::error_code) { s->close([s] { delete s; }); });
  });
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: echo_server --port N [--host H] [--idle-timeout S] [--callbacks]\n");
    return 2;
  }
  auto addr = weft::net::SocketAddress::parse(args.host, args.port);
  if (!addr) {
    std::fprintf(stderr, "echo_server: bad address %s\n", args.host.c_str());
    return 2;
  }
  weft::Loop loop;
  weft::net::Listener listener(loop);
  std::error_code ec;
  if (args.callbacks) {
    serve_callbacks(loop, listener, ec, *addr);
  } else {
    ec = listener.listen(*addr);
    if (!ec) weft::spawn(loop, connection(loop, listener, std::chrono::seconds(args.idle_seconds)));
  }
  if (ec) {
    std::fprintf(stderr, "echo_server: listen: %s\n", ec.message().c_str());
    return 1;
  }
  weft::Signal sigint(loop), sigterm(loop);
  auto stop = [&](int) { loop.stop(); };
  sigint.start(SIGINT, stop);
  sigterm.start(SIGTERM, stop);
  sigint.unref();
  sigterm.unref();
  std::printf("echo_server (%s) on %s:%u\n", args.callbacks ? "callbacks" : "coroutines",
              args.host.c_str(), static_cast<unsigned>(listener.port()));
  std::fflush(stdout);
  loop.run();
  return 0;
}
