// A program another project would write against an installed weft: an HTTP handler that
// blocks the loop in a function of the program itself, under the watchdog. Prints the
// stall's label and stack ("frame: ..."), then "consumer: 42" when a frame names the
// handler's function — what the watchdog exists for.
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <string>

// External linkage and not inlined: the frame the watchdog's stack must name.
__attribute__((noinline)) void weft_consumer_blocking_handler() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  volatile unsigned spins = 0;
  while (std::chrono::steady_clock::now() < until) spins = spins + 1;
}

int main() {
  weft::Loop loop;
  weft::observe::WatchdogOptions options;
  options.threshold = std::chrono::milliseconds(50);
  options.log_sink = [](std::string_view) {};
  weft::observe::Watchdog dog(loop, options);
  std::string reply;
  {
    weft::http::Server server(loop);
    server.get("/slow", [](weft::http::Request&) {
      weft_consumer_blocking_handler();
      return weft::http::Response::text("done");
    });
    if (server.listen(0, "127.0.0.1")) return 1;
    weft::net::Stream client(loop);
    auto address = weft::net::SocketAddress::parse("127.0.0.1", server.port());
    client.connect(*address, [&](std::error_code ec) {
      if (ec) return server.close();
      client.write("GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
      client.read_start([&](std::span<char> data) {
        reply.append(data.data(), data.size());
        return data.size();
      });
      client.on_end([&] {
        client.close();
        server.close();
      });
    });
    loop.run();
  }
  bool named = false;
  for (const weft::observe::StallReport& r : dog.recent()) {
    std::printf("stall: %s\n", r.label.c_str());
    for (const std::string& frame : r.stack) {
      std::printf("frame: %s\n", frame.c_str());
      if (frame.find("weft_consumer_blocking_handler") != std::string::npos) named = true;
    }
  }
  const bool ok = named && reply.ends_with("\r\n\r\ndone");
  std::printf("consumer: %s\n", ok ? "42" : "the stall's stack does not name the handler");
  return loop.close() || !ok ? 1 : 0;
}
